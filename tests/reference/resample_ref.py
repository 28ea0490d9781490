"""Plain-numpy reference for ``native.resample``; used only by tests.

Straight from the definition of rational resampling, in float64: zero-stuff by
``up``, filter with the prototype taps, keep every ``down``-th sample. It uses
the same designed taps (``native.resample_design``) but none of the kernel's
machinery (phase table, history, blocks, float32), so agreement checks the
streaming arithmetic; the response tests check the design itself.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from native.resample_design import design


def resample(x: npt.ArrayLike, in_rate: int, out_rate: int) -> npt.NDArray[np.float64]:
    """The whole stream a ``Resampler`` emits for ``x``: ``process`` then ``flush``.

    ``ceil(n * up / down)`` samples from processing, then ``delay_out`` more
    from the flush (none for an empty input); output ``k`` is
    ``sum_i x[i] * h[k * down - i * up]``.
    """
    signal = np.asarray(x, dtype=np.float64)
    filt = design(in_rate, out_rate)
    up, down, taps = filt.up, filt.down, filt.taps
    n = signal.size
    count = -(-n * up // down) + (filt.delay_out if n else 0)
    k = np.arange(count, dtype=np.int64)[:, None]
    # Inputs that can meet a tap: i with 0 <= k * down - i * up < len(taps).
    newest = (k * down) // up
    i = newest - np.arange(-(-taps.size // up), dtype=np.int64)[None, :]
    j = k * down - i * up
    valid = (i >= 0) & (i < n) & (j < taps.size)
    products = np.where(valid, signal[np.clip(i, 0, max(n - 1, 0))] if n else 0.0, 0.0)
    weights = np.where(valid, taps[np.clip(j, 0, taps.size - 1)], 0.0)
    return np.asarray((products * weights).sum(axis=1), dtype=np.float64)


def resample_aligned(x: npt.ArrayLike, in_rate: int, out_rate: int) -> npt.NDArray[np.float64]:
    """``resample`` with the filter's delay trimmed: what ``resample_s16`` returns."""
    return resample(x, in_rate, out_rate)[design(in_rate, out_rate).delay_out :]


def tone_gain(y: npt.NDArray[np.float64], freq: float, rate: float) -> tuple[float, float]:
    """Least-squares fit of one sinusoid at ``freq``: ``(amplitude, residual rms)``."""
    t = np.arange(y.size) / rate
    basis = np.stack([np.cos(2 * np.pi * freq * t), np.sin(2 * np.pi * freq * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    residual = y - basis @ coef
    return float(np.hypot(*coef)), float(np.sqrt(np.mean(residual**2)))
