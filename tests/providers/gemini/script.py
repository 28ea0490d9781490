"""What the fake Gemini Live server says: a script of model turns, and the turns' audio.

Each :class:`Reply` answers one user turn (or one ``clientContent`` turn): what the
server "heard" (its input transcription), an optional function call made first, and
what it says: a sine at ``tone_hz`` for ``seconds`` (24 kHz, as Gemini's audio) with
``say`` as its output transcription. ``say`` may name the conversation so far
(``{turns}``: model turns before this one, ``{last}``: the last thing it said,
``{result}``: the tool's answer), which is how a test sees the context kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OUTPUT_RATE = 24000
INPUT_RATE = 16000
CHUNK_S = 0.1  # the server streams its audio in 100 ms parts


@dataclass(frozen=True)
class Reply:
    heard: str
    say: str
    tone_hz: float
    seconds: float = 1.0
    tool: tuple[str, dict[str, object]] | None = None  # (name, args) called first
    go_away_after: bool = False  # the connection's time is up after this turn


def tone(hz: float, seconds: float, rate: int = OUTPUT_RATE, amplitude: float = 0.3
         ) -> np.ndarray:
    """The reply's audio: int16 mono."""
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def dominant_hz(pcm: np.ndarray, rate: int = OUTPUT_RATE) -> float:
    """The strongest frequency of a signal (how a test names which reply it hears)."""
    x = pcm.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[int(np.argmax(spectrum))])


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if pcm.size else 0.0
