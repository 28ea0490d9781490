"""A media stream's audio: mu-law 8 kHz both ways (Twilio's only format).

In, the caller's mu-law is expanded to int16 at 8 kHz (dsp resamples it to the
model's rate, as it does every transport's). Out, playout's frames (mono int16 at
its output rate, 24 kHz) are resampled to 8 kHz by the native resampler, one stream
per call, and compressed: one frame in, one media payload out, so every payload
sits between two marks that name its playout tick.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from native.g711 import ulaw_decode, ulaw_encode
from native.resample import Resampler

RATE: Final = 8000


def caller_pcm(ulaw: bytes) -> bytes:
    """The caller's mu-law payload as int16 at 8 kHz."""
    return ulaw_decode(ulaw)


class AgentEncoder:
    """Playout tick frames in, mu-law 8 kHz payloads out. A gap in the ticks is a new
    talk spurt (playout sends nothing between items): the resampler starts afresh."""

    def __init__(self) -> None:
        self._resampler: Resampler | None = None
        self._in_rate = 0
        self._last_seq: int | None = None
        self._out = np.empty(0, dtype=np.int16)

    def encode(self, seq: int, sample_rate: int, pcm: bytes) -> bytes:
        """Tick ``seq``'s frame as mu-law at 8 kHz."""
        if sample_rate != self._in_rate:
            self._in_rate = sample_rate
            self._resampler = None if sample_rate == RATE else Resampler(sample_rate, RATE)
        elif self._resampler is not None and seq != (self._last_seq or 0) + 1:
            self._resampler.reset()
        self._last_seq = seq
        if self._resampler is None:
            return ulaw_encode(pcm)
        need = self._resampler.max_output(len(pcm) // 2)
        if len(self._out) < need:
            self._out = np.empty(need, dtype=np.int16)
        n = self._resampler.process_s16(pcm, self._out)
        return ulaw_encode(self._out[:n])

    def reset(self) -> None:
        """Barge-in: what comes next is a new spurt."""
        self._last_seq = None
        if self._resampler is not None:
            self._resampler.reset()
