"""Plain-numpy reference of ``native.vad.Vad``'s frame decision and events; used only by tests.

Whole-signal numpy/scipy where the kernel streams: the box decimation is a
reshape-sum, the band filters are ``scipy.signal.lfilter`` over the whole
stream (the kernel runs the same recursion two samples per step), and the
floor tracker and state machine are written out per frame. Obviously correct,
obviously slow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

BANDS_HZ = ((150.0, 700.0), (700.0, 2000.0), (2000.0, 4000.0))
HYSTERESIS_DB = 3.0
BOOT_MS = 100
FLOOR_DOWN, FLOOR_FOLLOW, FLOOR_RISE_DB_PER_S = 0.3, 0.02, 1.0
FULL_SCALE_DB = 20 * math.log10(32768)
TINY_POWER = 1e-3

Float64Array = npt.NDArray[np.float64]


def db(power: Float64Array | float) -> Float64Array:
    return np.asarray(10 * np.log10(np.asarray(power) + TINY_POWER) - FULL_SCALE_DB)


def band_pass(lo: float, hi: float, rate: int, decim: int) -> tuple[list[float], list[float]]:
    """First-order Butterworth band-pass by the prewarped bilinear transform (b0 / decim)."""
    wl = math.tan(math.pi * lo / rate)
    wh = math.tan(math.pi * min(hi, 0.45 * rate) / rate)
    bw, w0sq = wh - wl, wl * wh
    a0 = 1 + bw + w0sq
    b0 = bw / a0 / decim
    return [b0, 0.0, -b0], [1.0, 2 * (w0sq - 1) / a0, (1 - bw + w0sq) / a0]


@dataclass
class VadRef:
    """Same contract as ``Vad`` (no ``confirm``); ``run`` takes the whole stream at once."""

    rate: int
    frame_ms: int = 10
    min_speech_ms: int = 60
    min_silence_ms: int = 300
    threshold_db: float = 5.5
    raw: list[bool] = field(default_factory=list)
    events: list[tuple[int, int, int]] = field(default_factory=list)
    band_floors_db: Float64Array = field(default_factory=lambda: np.zeros(3))

    def run(self, pcm: bytes) -> None:
        """Decide every whole frame of ``pcm``; fill ``raw``, ``events`` and the floors."""
        rate, frame = self.rate, self.rate * self.frame_ms // 1000
        sub = rate // 400
        decim = 1 if rate <= 16000 else (4 if rate == 48000 else 2)
        frames = len(pcm) // 2 // frame
        x = np.frombuffer(pcm, dtype="<i2")[: frames * frame].astype(np.float64)
        boxed = x.reshape(-1, decim).sum(axis=1)
        per_sub = []  # band x sub-block: mean power per input sample
        for lo, hi in BANDS_HZ:
            b, a = band_pass(lo, hi, rate // decim, decim)
            y = lfilter(b, a, boxed)
            per_sub.append((y**2).reshape(-1, sub // decim).sum(axis=1) * decim / sub)
        sub_power = np.array(per_sub)
        subs = frame // sub
        tenths = self.frame_ms / 10
        down = 1 - (1 - FLOOR_DOWN) ** tenths
        follow = 1 - (1 - FLOOR_FOLLOW) ** tenths
        rise = FLOOR_RISE_DB_PER_S * self.frame_ms / 1000
        boot_frames = max(1, BOOT_MS // self.frame_ms)
        floor = db(np.zeros(3))
        boot = np.zeros(3)
        state, prev, start, stop = "quiet", False, 0, 0
        for i in range(frames):
            subs_db = sub_power[:, i * subs : (i + 1) * subs]
            power = subs_db.mean(axis=1)
            level = db(power)
            speech = False
            if i >= boot_frames:
                limit = self.threshold_db - (HYSTERESIS_DB if prev else 0.0)
                speech = bool(np.max(level - floor) > limit)
            self.raw.append(speech)
            frame_start, frame_end = i * frame, (i + 1) * frame
            if state == "quiet" and speech:
                above = np.flatnonzero(np.any(db(subs_db).T - floor > self.threshold_db, axis=1))
                start = frame_start + (int(above[0]) * sub if above.size else 0)
                state = "starting"
            elif state == "starting" and not speech:
                state = "quiet"
            elif state == "speaking" and not speech:
                stop, state = frame_start, "stopping"
            elif state == "stopping" and speech:
                state = "speaking"
            if state == "starting" and frame_end - start >= self.min_speech_ms * rate // 1000:
                state = "speaking"
                self.events.append((i, 1, start))
            elif state == "stopping" and frame_end - stop >= self.min_silence_ms * rate // 1000:
                state = "quiet"
                self.events.append((i, 2, stop))
            boot += power
            if i < boot_frames:
                floor = db(boot / (i + 1))
            else:
                floor = np.where(
                    level < floor,
                    floor + down * (level - floor),
                    np.where(
                        level - floor < self.threshold_db,
                        floor + follow * (level - floor),
                        floor + rise,
                    ),
                )
            prev = speech
        self.band_floors_db = floor
