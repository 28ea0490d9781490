"""Comparing what a WebRTC caller heard with what was said: Opus keeps the envelope
exactly and the waveform only roughly, so matches are scored on both."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tests.pipeline.audio_checks import max_ncc

F64 = npt.NDArray[np.float64]
ENVELOPE_MS = 5.0  # hop
ENVELOPE_WIN_MS = 30.0  # longer than a pitch period: the envelope, not the voicing


def envelope(x: F64, rate: int, hop_ms: float = ENVELOPE_MS,
             win_ms: float = ENVELOPE_WIN_MS) -> F64:
    """RMS over ``win_ms`` every ``hop_ms``."""
    win, hop = int(rate * win_ms / 1000), int(rate * hop_ms / 1000)
    if len(x) < win:
        return np.zeros(0)
    energy = np.concatenate([[0.0], np.cumsum(x * x)])
    starts = np.arange(0, len(x) - win + 1, hop)
    return np.asarray(np.sqrt((energy[starts + win] - energy[starts]) / win), dtype=np.float64)


def envelope_ncc(a: F64, b: F64, rate: int, max_lag_s: float = 0.05) -> float:
    """Peak normalised correlation of the zero-mean RMS envelopes within +-max_lag_s."""
    ea, eb = envelope(a, rate), envelope(b, rate)
    ea, eb = ea - ea.mean(), eb - eb.mean()
    return max_ncc(ea, eb, int(max_lag_s * 1000 / ENVELOPE_MS))


def rms_dbfs(x: F64) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12)) if len(x) else -240.0


def locate(x: F64, seg: F64, rate: int, around_s: float, max_s: float) -> float:
    """Where (s) ``seg`` best matches ``x`` (peak cross-correlation of their envelopes)
    within ``around_s`` +- ``max_s``."""
    ex, es = envelope(x, rate), envelope(seg, rate)
    hop = ENVELOPE_MS / 1000
    lo = max(0, int((around_s - max_s) / hop))
    hi = min(len(ex) - len(es), int((around_s + max_s) / hop))
    if hi < lo or len(es) == 0:
        return around_s
    es = es - es.mean()
    scores = [float(np.dot(ex[k : k + len(es)] - ex[k : k + len(es)].mean(), es))
              for k in range(lo, hi + 1)]
    return (lo + int(np.argmax(scores))) * hop


def best_correlation(heard: F64, turn: F64) -> float:
    """The peak normalised cross-correlation of ``turn`` against every place in
    ``heard`` (same rate; no lag bound): 1.0 where ``heard`` holds ``turn`` exactly."""
    return best_match(heard, turn)[0]


def best_match(heard: F64, turn: F64) -> tuple[float, int]:
    """``best_correlation`` and the sample of ``heard`` where that best match starts
    (0 when nothing matches)."""
    if len(heard) < len(turn) or not np.any(turn):
        return 0.0, 0
    size = 1 << (len(heard) + len(turn)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(heard, size) * np.conj(np.fft.rfft(turn, size)), size)
    corr = corr[: len(heard) - len(turn) + 1]
    energy = np.concatenate([[0.0], np.cumsum(heard * heard)])
    window = energy[len(turn):] - energy[: len(heard) - len(turn) + 1]
    turn_energy = float(np.dot(turn, turn))
    # Places quieter than a hundredth of the turn cannot hold it (and would divide by ~0).
    ok = window > 0.01 * turn_energy
    if not np.any(ok):
        return 0.0, 0
    scores = np.where(ok, corr / np.sqrt(np.maximum(window, 1e-30) * turn_energy), -np.inf)
    at = int(np.argmax(scores))
    return float(scores[at]), at
