"""The loopback transport's agent half: a room whose caller is a test peer.

The peer listens at ``address`` (``127.0.0.1:PORT``); the edge stage connects to it
once the agent starts the call on ``LoopbackTransport(address)``. Everything else
(the caller joining, its microphone, the agent's attributes on the timeline) is
the one-caller room every transport shares.
"""

from __future__ import annotations

from pathlib import Path

from ipc.schema import LoopbackTransport
from pipeline.transports.caller_room import CallerRoom


class LoopbackRoom(CallerRoom):
    def __init__(self, address: str, out_dir: Path | str, *, caller_identity: str = "caller",
                 join_after_s: float = 0.0) -> None:
        super().__init__(out_dir, caller_identity=caller_identity, join_after_s=join_after_s)
        self.address = address

    def transport(self) -> LoopbackTransport:
        return LoopbackTransport(self.address)
