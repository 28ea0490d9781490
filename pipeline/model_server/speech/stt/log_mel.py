"""Whisper's input features: an 80-band log-mel spectrogram of 16 kHz audio.

Computed with numpy only so the Whisper recognizer needs no torch, librosa or
audio-decoding stack: a 25 ms periodic Hann window every 10 ms, reflect-padded
edges, a Slaney-scale mel filterbank (area-normalized), log10 clamped to 80 dB
below the peak and scaled to roughly [-1, 1] — the transform the model was
trained on, so any deviation here costs accuracy.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160
N_MELS = 80

_LINEAR_STEP_HZ = 200.0 / 3  # Slaney mel scale: linear below 1 kHz ...
_LOG_START_MEL = 1000.0 / _LINEAR_STEP_HZ
_LOG_STEP = np.log(6.4) / 27.0  # ... and logarithmic above


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    log_part = _LOG_START_MEL + np.log(np.maximum(hz, 1e-10) / 1000.0) / _LOG_STEP
    return np.where(hz >= 1000.0, log_part, hz / _LINEAR_STEP_HZ)


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    log_part = 1000.0 * np.exp(_LOG_STEP * (mel - _LOG_START_MEL))
    return np.where(mel >= _LOG_START_MEL, log_part, mel * _LINEAR_STEP_HZ)


@functools.cache
def mel_filterbank(n_mels: int = N_MELS) -> npt.NDArray[np.float32]:
    """Triangular filters, shape (n_mels, N_FFT // 2 + 1), each normalized to unit area."""
    fft_hz = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges_mel = np.linspace(0.0, float(_hz_to_mel(np.array(SAMPLE_RATE / 2))), n_mels + 2)
    edges_hz = _mel_to_hz(edges_mel)
    widths = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    filters = np.maximum(0.0, np.minimum(rising, falling))
    filters *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return filters.astype(np.float32)


@functools.cache
def _hann() -> npt.NDArray[np.float32]:
    n = np.arange(N_FFT)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)).astype(np.float32)


def log_mel(pcm: npt.NDArray[np.int16], n_samples: int) -> npt.NDArray[np.float32]:
    """Features of ``pcm`` zero-padded (or cut) to ``n_samples``; shape (80, n_samples // HOP).

    Frames that see only padding are all-zero power, so only the frames near the audio
    are computed and the rest filled with the floor: a 2 s request in a 10 s window
    costs 2 s of FFTs (this runs holding the GIL between numpy calls, beside the loop).
    """
    n_frames = n_samples // HOP
    used = min(len(pcm), n_samples)
    # 2 * N_FFT zeros after the audio make the short signal's edge frames (reflection
    # included) identical to the fully padded signal's.
    short = min(n_samples, used + 2 * N_FFT)
    x = np.zeros(short, dtype=np.float32)
    x[:used] = pcm[:used] * np.float32(1 / 32768)
    padded = np.pad(x, N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    # The last frame only sees the reflected padding; the model was trained without it.
    frames = frames[: short // HOP]
    power = np.abs(np.fft.rfft(frames * _hann(), axis=1)) ** 2
    log = np.full((N_MELS, n_frames), -10.0, dtype=np.float32)  # log10 of the 1e-10 floor
    mel = mel_filterbank() @ power.T.astype(np.float32)
    log[:, : mel.shape[1]] = np.log10(np.maximum(mel, 1e-10))
    log = np.maximum(log, log.max() - 8.0)
    return np.ascontiguousarray((log + 4.0) / 4.0, dtype=np.float32)
