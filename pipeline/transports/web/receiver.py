"""The caller's Opus packets are taken as they arrive, not 80 ms later, and decoded on
the edge's loop.

aiortc's receiver holds audio in a jitter buffer that releases a frame only after four
more have arrived (``prefetch=4``): 80 ms of the caller's speech sat there before the
edge saw them, and every barge-in reached the agent 80 ms late. Then each frame went to
a decoder thread and came back through a future. An Opus packet is a whole frame, so
there is nothing to reassemble: :class:`PacketsOnArrival` takes aiortc's buffer's place
and hands each packet's payload to the connection at once (which decodes it inline,
``transports/web/opus.py``), drops duplicates and packets older than one already handed
on (a late packet cannot be played in order any more), and counts both. It gives aiortc
nothing back, so aiortc's decoder thread idles. A lost packet is simply missing, as it
is from aiortc's own buffer when it gives up waiting.

aiortc keeps the buffer in a private attribute; :func:`take_packets_on_arrival` checks
it is there and says so loudly if an aiortc upgrade moved it (pyproject pins 1.x, and a
test asserts the swap takes place).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

_ATTRIBUTE: Final = "_RTCRtpReceiver__jitter_buffer"
# Half the 16-bit sequence space: a packet this far "ahead" is really behind.
_HALF: Final = 1 << 15


class PacketsOnArrival(JitterBuffer):
    """In place of aiortc's audio jitter buffer: each in-order packet's payload (and its
    RTP timestamp) goes to ``on_payload`` as it arrives; nothing is buffered."""

    def __init__(self, on_payload: Callable[[bytes, int], None]) -> None:
        super().__init__(capacity=16)
        self.on_payload = on_payload
        self.last_sequence: int | None = None
        self.taken = 0
        self.dropped_late = 0

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        last = self.last_sequence
        if last is not None:
            ahead = uint16_add(packet.sequence_number, -last)
            if ahead == 0 or ahead >= _HALF:
                self.dropped_late += 1
                return False, None
        self.last_sequence = packet.sequence_number
        self.taken += 1
        self.on_payload(packet._data, packet.timestamp)  # type: ignore[attr-defined]  # aiortc's
        return False, None


def take_packets_on_arrival(receiver: RTCRtpReceiver,
                            on_payload: Callable[[bytes, int], None]) -> PacketsOnArrival:
    """Swap ``receiver``'s audio jitter buffer for a :class:`PacketsOnArrival`."""
    current = getattr(receiver, _ATTRIBUTE, None)
    if not isinstance(current, JitterBuffer):
        raise RuntimeError("this aiortc keeps no jitter buffer where voxpipe expects it "
                           f"({_ATTRIBUTE}); pin aiortc 1.x")
    taker = PacketsOnArrival(on_payload)
    setattr(receiver, _ATTRIBUTE, taker)
    return taker
