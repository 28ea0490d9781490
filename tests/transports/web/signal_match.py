"""Comparing what a WebRTC caller heard with what was said: Opus keeps the envelope
exactly and the waveform only roughly, so matches are scored on both."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tests.pipeline.audio_checks import max_ncc

F64 = npt.NDArray[np.float64]
ENVELOPE_MS = 5.0


def envelope(x: F64, rate: int, win_ms: float = ENVELOPE_MS) -> F64:
    """RMS per ``win_ms`` window."""
    win = int(rate * win_ms / 1000)
    n = len(x) // win
    return np.asarray(np.sqrt(np.mean(x[: n * win].reshape(n, win) ** 2, axis=1)),
                      dtype=np.float64)


def envelope_ncc(a: F64, b: F64, rate: int, max_lag_s: float = 0.05) -> float:
    """Peak normalised correlation of the zero-mean RMS envelopes within +-max_lag_s."""
    ea, eb = envelope(a, rate), envelope(b, rate)
    ea, eb = ea - ea.mean(), eb - eb.mean()
    return max_ncc(ea, eb, int(max_lag_s * 1000 / ENVELOPE_MS))


def rms_dbfs(x: F64) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12)) if len(x) else -240.0
