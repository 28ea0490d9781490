"""A media stream's audio: mu-law 8 kHz both ways (Twilio's only format).

In, the caller's mu-law is expanded to int16 at 8 kHz (dsp resamples it to the
model's rate, as it does every transport's). Out, playout's frames (mono int16 at
its output rate, 24 kHz) are resampled to 8 kHz by the native resampler, one stream
per call, and compressed: one frame in, one media payload out, so every payload
sits between two marks that name its playout tick.
"""

from __future__ import annotations

from native.g711 import ulaw_encode
from pipeline.transports.narrowband import RATE, Narrowband

__all__ = ["RATE", "AgentEncoder"]


class AgentEncoder:
    """Playout tick frames in, mu-law 8 kHz payloads out. A gap in the ticks is a new
    talk spurt (playout sends nothing between items): the resampler starts afresh."""

    def __init__(self) -> None:
        self._narrowband = Narrowband()
        self._last_seq: int | None = None

    def encode(self, seq: int, sample_rate: int, pcm: bytes) -> bytes:
        """Tick ``seq``'s frame as mu-law at 8 kHz."""
        if self._last_seq is None or seq != self._last_seq + 1:
            self._narrowband.reset()
        self._last_seq = seq
        return ulaw_encode(self._narrowband.convert(sample_rate, pcm))

    def reset(self) -> None:
        """Barge-in: what comes next is a new spurt."""
        self._last_seq = None
        self._narrowband.reset()
