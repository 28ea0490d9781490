"""Signal checks used by the pipeline tests: read the recording, find and compare turns."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

F64 = npt.NDArray[np.float64]


def read_stereo(path: Path) -> tuple[int, F64, F64]:
    """(rate, left, right) of conversation.wav as floats in [-1, 1)."""
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 2 and w.getsampwidth() == 2
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    return rate, data[:, 0] / 32768.0, data[:, 1] / 32768.0


def read_mono(path: Path, rate: int) -> F64:
    """An input WAV, downmixed and resampled to ``rate`` (the reference for the user side)."""
    from pipeline.transports.file.wav_reader import WavSource

    with WavSource.open(path) as src:
        raw = np.frombuffer(src.read_s16(0, src.frames), dtype="<i2").astype(np.float64)
        x = raw.reshape(-1, src.channels).mean(axis=1) / 32768.0
        return np.asarray(soxr.resample(x, src.sample_rate, rate, quality="HQ"), dtype=np.float64)


def onset_after(x: F64, rate: int, start_s: float, thresh_dbfs: float = -40.0,
                win_ms: float = 5.0) -> float | None:
    """First time >= start_s where the windowed RMS exceeds the threshold."""
    win = int(rate * win_ms / 1000)
    i0 = int(start_s * rate)
    seg = x[i0:]
    n = len(seg) // win
    if n == 0:
        return None
    rms = np.sqrt(np.mean(seg[: n * win].reshape(n, win) ** 2, axis=1) + 1e-20)
    hits = np.nonzero(20 * np.log10(rms) > thresh_dbfs)[0]
    return None if hits.size == 0 else (i0 + int(hits[0]) * win) / rate


def _ncc_at(a: F64, b: F64, lag: int) -> float:
    x, y = (a[lag:], b) if lag >= 0 else (a, b[-lag:])
    m = min(len(x), len(y))
    x, y = x[:m], y[:m]
    den = float(np.sqrt(np.dot(x, x) * np.dot(y, y)))
    return float(np.dot(x, y)) / den if den > 0 else -1.0


def max_ncc(a: F64, b: F64, max_lag: int) -> float:
    """Peak normalised cross-correlation of b against a within +-max_lag samples
    (coarse search every 4 samples, then every sample around the best)."""
    best_lag = max(range(-max_lag, max_lag + 1, 4), key=lambda lag: _ncc_at(a, b, lag))
    return max(_ncc_at(a, b, lag) for lag in range(best_lag - 4, best_lag + 5))


def delay_of(x: F64, ref: F64, rate: int, start_s: float, dur_s: float = 8.0,
             max_s: float = 0.5) -> float:
    """How late (-max_s..max_s seconds) ``ref[start_s : start_s + dur_s]`` appears in
    ``x``: where a live caller's audio sits on the session timeline."""
    i0, n, m = int(start_s * rate), int(dur_s * rate), int(max_s * rate)
    lo = max(0, i0 - m)
    seg, win = ref[i0 : i0 + n], x[lo : i0 + n + m]
    size = 1 << (len(seg) + len(win)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(win, size) * np.conj(np.fft.rfft(seg, size)), size)
    # corr[k]: seg placed at win[k], i.e. at x[lo + k]; the lag is lo + k - i0.
    k0 = i0 - lo
    return (int(np.argmax(corr[: k0 + m + 1])) - k0) / rate
