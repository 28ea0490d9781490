"""Plain-numpy reference for ``native.convert``; used only by tests.

Written for clarity, not speed, and independently of the kernel: same rules
(scale by 32768, clip before rounding, round half to even, NaN -> 0), different
arithmetic, so agreement means something.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

S16 = np.dtype("<i2")


def s16_to_f32(pcm: bytes) -> npt.NDArray[np.float32]:
    """int16 PCM bytes -> float32 ``x / 32768``."""
    return np.frombuffer(pcm, dtype=S16).astype(np.float32) / np.float32(32768)


def f32_to_s16(x: npt.NDArray[np.float32]) -> bytes:
    """float32 -> int16 PCM bytes: ``rint(clip(x * 32768, -32768, 32767))``, NaN -> 0."""
    scaled = np.clip(x.astype(np.float32) * np.float32(32768), -32768, 32767)
    rounded = np.rint(np.where(np.isnan(scaled), np.float32(0), scaled))
    return bytes(rounded.astype(S16).tobytes())


def downmix_s16(pcm: bytes, channels: int) -> bytes:
    """Interleaved int16 -> mono int16, channel mean rounded half to even."""
    frames = np.frombuffer(pcm, dtype=S16).reshape(-1, channels).astype(np.int64)
    # The mean of ints is a ratio of small ints: float64 division is correctly
    # rounded, so exact ties (k + 0.5) stay exact and np.rint sends them to even.
    mean = frames.sum(axis=1) / channels
    return bytes(np.rint(mean).astype(S16).tobytes())


def gain_s16(pcm: bytes, gain: float) -> bytes:
    """int16 PCM scaled in float64, clipped, rounded half to even."""
    scaled = np.frombuffer(pcm, dtype=S16).astype(np.float64) * gain
    return np.rint(np.clip(scaled, -32768, 32767)).astype(S16).tobytes()


def rms_peak_s16(pcm: bytes) -> tuple[float, int]:
    """``(sqrt(mean(x**2)), max(|x|))`` with the sum of squares exact in int64."""
    x = np.frombuffer(pcm, dtype=S16).astype(np.int64)
    if x.size == 0:
        return 0.0, 0
    energy = int(np.sum(x * x))
    return float(np.sqrt(np.float64(energy) / x.size)), int(np.max(np.abs(x)))
