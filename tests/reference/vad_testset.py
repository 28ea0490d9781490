"""A labelled voice-activity test set built from the bundled recordings; used only by tests.

Speech: the four espeak-ng utterances of ``examples/audio`` (three from
``three_turns.wav``, one from ``one_turn_48k_stereo.wav`` downmixed), each cut
100 ms either side of its measured speech span, resampled with soxr to the rate
under test and laid out after a 1 s lead-in with seeded 0.5..1.5 s silences
between them, over a steady -60 dBFS white room floor. Noise: seeded white or
pink (1/f power, 20 Hz floor) added at an SNR relative to the *active speech
level*.

Definitions, chosen to be fair to any detector (none of them sees the clean
signal):

- Active speech level: the mean power of the clean signal over the utterances'
  measured speech spans (the ``onset_s``/``offset_s`` in the examples' JSON).
- True frame label: the clean frame's power is at least ``LABEL_REL_DB`` (20 dB)
  below the active level or louder. Quieter frames (the tails of decays, stop
  closures) carry almost nothing a listener or a VAD could use, and at 5 dB SNR
  they sit 15 dB under the noise.
- True utterance start: the JSON onset (the first sample above -50 dBFS in
  the TTS output, about 30 dB under the active level), mapped to the timeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

from pipeline.transports.file.wav_reader import WavSource

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "audio"
SEED = 20241125
SNRS_DB = (20.0, 10.0, 5.0)
NOISE_COLORS = ("white", "pink")
LABEL_REL_DB = 20.0
CUT_MARGIN_S = 0.1
LEAD_S = 1.0
ROOM_FLOOR_DBFS = -60.0

Float64Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Utterance:
    """One clean utterance: samples at the test rate and its measured speech span in them."""

    samples: Float64Array
    onset: int
    offset: int


@dataclass(frozen=True)
class LabelledSpeech:
    """Clean speech on a timeline, its true utterance starts and its active level."""

    rate: int
    clean: Float64Array  # float in [-1, 1)
    starts: list[int]  # true start sample of each utterance
    spans: list[tuple[int, int]]  # measured (onset, offset) of each utterance
    active_power: float  # mean square over the spans

    def labels(self, frame_ms: int) -> BoolArray:
        """True per whole frame of ``frame_ms``: clean power within LABEL_REL_DB of active."""
        n = self.rate * frame_ms // 1000
        frames = self.clean[: len(self.clean) // n * n].reshape(-1, n)
        power = np.mean(frames**2, axis=1)
        return np.asarray(power >= self.active_power * 10 ** (-LABEL_REL_DB / 10))

    def noisy(self, color: str, snr_db: float, seed: int = SEED) -> bytes:
        """The set plus seeded ``color`` noise at ``snr_db`` under the active level, as int16."""
        noise = unit_noise(color, len(self.clean), seed)
        noise *= np.sqrt(self.active_power) * 10 ** (-snr_db / 20)
        return to_s16(self.clean + noise)


def to_s16(x: Float64Array) -> bytes:
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype("<i2").tobytes()


def unit_noise(color: str, n: int, seed: int) -> Float64Array:
    """Seeded unit-RMS noise: ``white`` (flat) or ``pink`` (power ~ 1/f above 20 Hz of fs)."""
    white = np.random.default_rng(seed).standard_normal(n)
    if color == "white":
        shaped = white
    elif color == "pink":
        spectrum = np.fft.rfft(white)
        # Frequencies as fractions of the sample rate; below 20 Hz at 16 kHz
        # (and the same fraction elsewhere) the shaping stops rising.
        f = np.maximum(np.fft.rfftfreq(n), 20.0 / 16000.0)
        spectrum /= np.sqrt(f)
        spectrum[0] = 0.0
        shaped = np.fft.irfft(spectrum, n)
    else:
        raise ValueError(f"color must be white or pink, got {color!r}")
    return np.asarray(shaped / np.sqrt(np.mean(shaped**2)), dtype=np.float64)


def _read_mono(name: str) -> tuple[Float64Array, int, list[tuple[float, float]]]:
    meta = json.loads((EXAMPLES / f"{name}.json").read_text())
    with WavSource.open(EXAMPLES / f"{name}.wav") as src:
        pcm = np.frombuffer(src.read_s16(0, src.frames), dtype="<i2").astype(np.float64)
        channels, rate = src.channels, src.sample_rate
    mono = pcm.reshape(-1, channels).mean(axis=1) / 32768.0
    spans = [(t["onset_s"], t["offset_s"]) for t in meta["turns"]]
    return mono, rate, spans


@cache
def utterances(rate: int) -> tuple[Utterance, ...]:
    """The four clean utterances resampled to ``rate``, in the order they are laid out."""
    out: list[Utterance] = []
    for name in ("three_turns", "one_turn_48k_stereo"):
        mono, file_rate, spans = _read_mono(name)
        x = np.asarray(soxr.resample(mono, file_rate, rate, quality="HQ"), dtype=np.float64)
        for onset_s, offset_s in spans:
            start = round((onset_s - CUT_MARGIN_S) * rate)
            stop = round((offset_s + CUT_MARGIN_S) * rate)
            margin = round(CUT_MARGIN_S * rate)
            out.append(Utterance(x[start:stop].copy(), margin, stop - start - margin))
    # Alternate the sources: turn 1, the 48 kHz turn, turns 2 and 3.
    return (out[0], out[3], out[1], out[2])


@cache
def build(rate: int) -> LabelledSpeech:
    """The clean timeline at ``rate`` with its true starts (deterministic, cached)."""
    rng = np.random.default_rng(SEED)
    pieces: list[Float64Array] = [np.zeros(round(LEAD_S * rate))]
    spans: list[tuple[int, int]] = []
    pos = len(pieces[0])
    for utt in utterances(rate):
        spans.append((pos + utt.onset, pos + utt.offset))
        gap = np.zeros(round(rng.uniform(0.5, 1.5) * rate))
        pieces += [utt.samples, gap]
        pos += len(utt.samples) + len(gap)
    clean = np.concatenate(pieces)
    # A steady room floor over everything: the recordings' own -65 dBFS floors
    # differ by source rate and channel count after resampling, and a detector
    # would rightly call each cut's few-dB step out of the gap a sound.
    clean += rng.standard_normal(len(clean)) * 10 ** (ROOM_FLOOR_DBFS / 20)
    active_power = float(np.mean(np.concatenate([clean[a:b] for a, b in spans]) ** 2))
    return LabelledSpeech(rate, clean, [a for a, _ in spans], spans, active_power)
