"""Signal checks of what a browser call received and recorded (numpy only).

Everything is measured on the page's own clock: its test tap records the microphone
and the received audio side by side, so a turn found in one and its echo or its
barge-in effect in the other are a subtraction apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import correlate, resample_poly

SPEECH_DBFS = -40.0  # a 5 ms frame this loud is speech (the example's words sit near -20)
QUIET_DBFS = -50.0  # below this the agent is silent (Opus keeps true silence near -90)
DRIFT_FOLLOW_CORR = 0.6  # piecewise_corr follows a piece's lag only when it matches this well


@dataclass(frozen=True)
class Match:
    """Where ``needle`` sits best in a longer signal, and how alike they are there."""

    at: int  # sample offset in the longer signal
    corr: float  # Pearson correlation of the waveforms at that offset
    envelope_corr: float  # of their 10 ms RMS envelopes


def frame_dbfs(x: np.ndarray, rate: int, frame_ms: float = 5.0) -> np.ndarray:
    hop = max(1, round(rate * frame_ms / 1000))
    n = len(x) // hop
    rms = np.sqrt(np.mean(np.square(x[:n * hop].reshape(n, hop), dtype=np.float64), axis=1))
    return np.asarray(20 * np.log10(rms + 1e-9))


def envelope(x: np.ndarray, rate: int) -> np.ndarray:
    return np.asarray(10 ** (frame_dbfs(x, rate, 10.0) / 20))


def find(needle: np.ndarray, hay: np.ndarray, rate: int, start: int = 0) -> Match:
    """The best normalised cross-correlation of ``needle`` in ``hay[start:]``."""
    needle = np.asarray(needle, dtype=np.float64)
    region = np.asarray(hay[start:], dtype=np.float64)
    if len(region) < len(needle):
        return Match(start, 0.0, 0.0)
    dots = correlate(region, needle, mode="valid", method="fft")
    energy = np.concatenate(([0.0], np.cumsum(np.square(region))))
    window = energy[len(needle):] - energy[:-len(needle)]  # each window's energy
    scores = dots / (np.sqrt(np.maximum(window, 1e-12)) * np.linalg.norm(needle))
    k = int(np.argmax(scores))
    piece = region[k:k + len(needle)]
    return Match(start + k, _pearson(needle, piece),
                 _pearson(envelope(needle, rate), envelope(piece, rate)))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Their correlation; 0 where either is constant (digital silence matches nothing)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def as_heard(turn: np.ndarray, mic: np.ndarray, rate: int) -> tuple[int, np.ndarray]:
    """Where ``turn`` (from the speech file) is in the page's microphone channel, and those
    samples: what the browser really captured and sent (its fake device is timer-driven
    and can slip a few samples under load, so the file is not the reference)."""
    match = find(turn, mic, rate)
    if match.envelope_corr < 0.9:
        raise AssertionError(f"the turn is not in the microphone channel: {match}")
    return match.at, mic[match.at:match.at + len(turn)]


def piecewise_corr(reference: np.ndarray, hay: np.ndarray, at: int, rate: int,
                   piece_ms: float = 250.0, slack_ms: float = 50.0,
                   first_slack_ms: float = 100.0) -> float:
    """Correlation of ``reference`` with ``hay`` near ``at``, in pieces each searched
    within ``slack_ms`` of where the piece before it was found (the first within
    ``first_slack_ms`` of ``at``): a browser's jitter buffer stretches and shrinks what
    it plays (NetEq accelerate/expand) and moves its delay by tens of ms when it adapts,
    which a single lag over a whole turn counts as a mismatch. What the pieces still
    catch is audio missing, out of order or not this reply's. The pieces' correlations
    are averaged, weighted by their energy (pauses count little)."""
    piece = round(rate * piece_ms / 1000)
    total = weights = 0.0
    drift, slack = 0, round(rate * first_slack_ms / 1000)  # the last piece's lag, less ``at``
    for start in range(0, len(reference) - piece + 1, piece):
        ref = reference[start:start + piece]
        centre = at + start + drift
        match = find(ref, hay[:centre + piece + slack], rate, start=max(0, centre - slack))
        if match.corr >= DRIFT_FOLLOW_CORR:  # a piece found for sure moves the window
            drift = match.at - at - start
            slack = round(rate * slack_ms / 1000)
        weight = float(np.sum(np.square(ref)))
        total += weight * match.corr
        weights += weight
    return total / weights if weights else 0.0


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    g = np.gcd(rate_in, rate_out)
    return np.asarray(resample_poly(x, rate_out // g, rate_in // g))


def speech_onset(x: np.ndarray, rate: int, start: int, frame_ms: float = 5.0) -> int:
    """The sample where speech (a frame over ``SPEECH_DBFS``) first starts after ``start``."""
    levels = frame_dbfs(x[start:], rate, frame_ms)
    loud = np.nonzero(levels > SPEECH_DBFS)[0]
    if not len(loud):
        raise AssertionError("no speech onset found")
    return start + int(loud[0]) * round(rate * frame_ms / 1000)


def silenced_at(x: np.ndarray, rate: int, start: int, hold_ms: float = 300.0,
                frame_ms: float = 5.0) -> int:
    """The first sample from ``start`` after which ``x`` stays quiet for ``hold_ms``."""
    hop = round(rate * frame_ms / 1000)
    levels = frame_dbfs(x[start:], rate, frame_ms)
    hold = round(hold_ms / frame_ms)
    quiet = levels < QUIET_DBFS
    for k in range(len(quiet) - hold):
        if quiet[k:k + hold].all():
            return start + k * hop
    raise AssertionError("the received audio never went quiet")


def level_dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-9))
