"""The caller's Opus packets go to the decoder as they arrive, not 80 ms later.

aiortc's receiver holds audio in a jitter buffer that releases a frame only after four
more have arrived (``prefetch=4``): 80 ms of the caller's speech sit there before the
edge sees them, and a barge-in reaches the agent 80 ms late. An Opus packet is a whole
frame, so the buffer has nothing to reassemble: :class:`ImmediateAudioBuffer` hands each
packet on at once, drops duplicates and packets older than one already handed on (a
late packet cannot be played in order any more), and counts both. A lost packet is
simply missing, as it is from aiortc's own buffer when it gives up waiting.

aiortc keeps the buffer in a private attribute; :func:`decode_on_arrival` checks it is
there and says so loudly if an aiortc upgrade moved it (the pin in pyproject keeps
1.x, and a test asserts the swap took place).
"""

from __future__ import annotations

from typing import Final

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

_ATTRIBUTE: Final = "_RTCRtpReceiver__jitter_buffer"
# Half the 16-bit sequence space: a packet this far "ahead" is really behind.
_HALF: Final = 1 << 15


class ImmediateAudioBuffer(JitterBuffer):
    """A jitter buffer for single-packet audio frames that buffers nothing."""

    def __init__(self) -> None:
        super().__init__(capacity=16)
        self.last_sequence: int | None = None
        self.released = 0
        self.dropped_late = 0

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        last = self.last_sequence
        if last is not None:
            ahead = uint16_add(packet.sequence_number, -last)
            if ahead == 0 or ahead >= _HALF:
                self.dropped_late += 1
                return False, None
        self.last_sequence = packet.sequence_number
        self.released += 1
        data: bytes = packet._data  # type: ignore[attr-defined]  # set by aiortc's depayload
        return False, JitterFrame(data=data, timestamp=packet.timestamp)


def decode_on_arrival(receiver: RTCRtpReceiver) -> ImmediateAudioBuffer:
    """Swap ``receiver``'s audio jitter buffer for an :class:`ImmediateAudioBuffer`."""
    current = getattr(receiver, _ATTRIBUTE, None)
    if not isinstance(current, JitterBuffer):
        raise RuntimeError("this aiortc keeps no jitter buffer where voxpipe expects it "
                           f"({_ATTRIBUTE}); pin aiortc 1.x")
    buffer = ImmediateAudioBuffer()
    setattr(receiver, _ATTRIBUTE, buffer)
    return buffer
