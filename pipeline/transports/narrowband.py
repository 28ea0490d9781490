"""Playout's frames at telephone rate: mono int16 at the session's output rate (24 kHz)
down to the 8 kHz G.711 carries, for the transports that speak it (SIP/RTP and Janus
through ``rtp/``, Twilio media streams). One stateful resampler per call, so frames
join without seams, and its output buffer reused: nothing allocated per frame but the
view handed back.
"""

from __future__ import annotations

from typing import Final

from native.resample import Resampler

RATE: Final = 8000


class Narrowband:
    """One call's agent audio, resampled to 8 kHz frame by frame."""

    def __init__(self) -> None:
        self._resampler: Resampler | None = None
        self._out = bytearray()

    def convert(self, sample_rate: int, pcm: bytes) -> bytes | memoryview:
        """``pcm`` at 8 kHz: a view of the reused buffer, valid until the next call."""
        if sample_rate == RATE:
            return pcm
        if self._resampler is None or self._resampler.in_rate != sample_rate:
            self._resampler = Resampler(sample_rate, RATE)
        need = 2 * self._resampler.max_output(len(pcm) // 2)
        if len(self._out) < need:
            self._out = bytearray(need)
        n = self._resampler.process_s16(pcm, self._out)
        return memoryview(self._out)[: 2 * n]

    def tail(self) -> bytes:
        """The end of a talk spurt: what the resampler still holds back, flushed."""
        if self._resampler is None:
            return b""
        tail = bytearray(2 * self._resampler.delay_samples)
        return bytes(tail[: 2 * self._resampler.flush_s16(tail)])

    def reset(self) -> None:
        """What comes next is a new talk spurt: the resampler forgets what it held."""
        if self._resampler is not None:
            self._resampler.reset()
