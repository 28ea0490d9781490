"""The fake microphone's speech: turns of ``examples/audio/three_turns.wav`` placed on a
timeline, as the 16-bit PCM WAV Chromium's ``--use-file-for-fake-audio-capture`` plays."""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "audio"
RATE = 48_000  # the fake microphone's rate: WebRTC's own, no resampling in the browser


@dataclass(frozen=True)
class PlacedTurn:
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Speech:
    """A speech file: its samples (float, ``RATE``) and where each turn is."""

    audio: np.ndarray
    turns: tuple[PlacedTurn, ...]

    def turn_audio(self, n: int) -> np.ndarray:
        t = self.turns[n]
        return self.audio[round(t.start_s * RATE):round(t.end_s * RATE)]

    def write(self, path: Path) -> Path:
        pcm = np.clip(np.round(self.audio * 32767), -32768, 32767).astype("<i2")
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(pcm.tobytes())
        return path


def _example() -> tuple[np.ndarray, list[dict[str, object]]]:
    with wave.open(str(EXAMPLES / "three_turns.wav"), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    labels = json.loads((EXAMPLES / "three_turns.json").read_text())
    audio = resample_poly(pcm.astype(np.float64) / 32768.0, RATE // rate, 1)
    return audio, labels["turns"]


def compose(placement: list[tuple[int, float]], total_s: float) -> Speech:
    """Turns of the example (by index) starting at the given seconds, silence around."""
    source, labels = _example()
    out = np.zeros(round(total_s * RATE))
    placed = []
    pad_s = 0.05  # keep the word edges the labels cut close to
    for index, start_s in placement:
        label = labels[index]
        a = round((float(label["onset_s"]) - pad_s) * RATE)  # type: ignore[arg-type]
        b = round((float(label["offset_s"]) + pad_s) * RATE)  # type: ignore[arg-type]
        at = round(start_s * RATE)
        out[at:at + b - a] = source[a:b]
        placed.append(PlacedTurn(str(label["text"]), at / RATE, (at + b - a) / RATE))
    return Speech(out, tuple(placed))
