"""The signal checks themselves, on synthetic audio: a reply a jitter buffer stretched
still matches piece by piece; a reply with a hole does not."""

from __future__ import annotations

import numpy as np

from tests.web.analysis import piecewise_corr

RATE = 16000


def _speechlike(seconds: float, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(int(seconds * RATE))
    # 4 Hz syllable-like envelope, so pieces differ in energy as speech does
    t = np.arange(len(noise)) / RATE
    return noise * (0.3 + np.abs(np.sin(2 * np.pi * 4 * t))) * 3000


def _stretched(x: np.ndarray, every_s: float, insert_ms: float) -> np.ndarray:
    """``x`` with ``insert_ms`` of repeated audio every ``every_s``, as NetEq's expand
    does: the lag grows by that much each time."""
    step, extra = int(every_s * RATE), int(insert_ms * RATE / 1000)
    parts = []
    for start in range(0, len(x), step):
        chunk = x[start:start + step]
        parts += [chunk, chunk[-extra:]]
    return np.concatenate(parts)


def test_pieces_follow_a_drift_that_adds_up() -> None:
    ref = _speechlike(4.0)
    lead = np.zeros(RATE // 2)
    played = np.concatenate([lead, _stretched(ref, 0.5, 8.0), lead])  # 64 ms by the end
    assert piecewise_corr(ref, played, len(lead), RATE) > 0.9


def test_a_hole_in_the_reply_lowers_the_pieces() -> None:
    ref = _speechlike(4.0)
    lead = np.zeros(RATE // 2)
    played = np.concatenate([lead, ref, lead])
    played[len(lead) + RATE:len(lead) + 2 * RATE] = 0  # a second of the reply lost
    assert piecewise_corr(ref, played, len(lead), RATE) < 0.8
