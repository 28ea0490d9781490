"""Symmetric RTP (RFC 4961): the far end is whoever sends the first packet.

A caller behind NAT cannot know the address its packets leave from, so the offer's
address is only where to send until the first packet arrives; then its source is
the remote, both ways, for the rest of the call. Packets from any other source after
that (a stray, a spoofer) are ignored and counted.
"""

from __future__ import annotations

Address = tuple[str, int]


class SymmetricLatch:
    """Whose packets count: the first sender's, from then on."""

    def __init__(self, remote: Address | None = None) -> None:
        #: Where to send: the signalled address until latched, then the first sender.
        self.remote = remote
        self.latched = False
        self.wrong_source = 0

    def accept(self, source: tuple[str, int] | tuple[str, int, int, int]) -> bool:
        """True for a packet from the remote (the first one latches it)."""
        addr = (source[0], source[1])
        if not self.latched:
            self.remote, self.latched = addr, True
            return True
        if addr == self.remote:
            return True
        self.wrong_source += 1
        return False
