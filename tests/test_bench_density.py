"""benchmarks/density.py reads what the caller heard from a recording alone: a made-up
conversation with a known reply delay, a gap and a lost turn is read back exactly; the
peers' table is found in the anchors' format."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from benchmarks.density import peer_rows, slope_pct_per_session
from benchmarks.density_audio import turns_heard

RATE = 24000
FRAME = 480


def _tone(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * RATE)) * 3000).clip(-32000, 32000).astype("<i2")


def test_replies_read_from_the_recording(tmp_path: Path) -> None:
    user = np.zeros(10 * RATE, "<i2")
    agent = np.zeros_like(user)
    turns = [{"onset_s": 1.0, "offset_s": 2.0}, {"onset_s": 4.0, "offset_s": 5.0},
             {"onset_s": 7.0, "offset_s": 8.0}]
    for i, t in enumerate(turns):
        user[int(t["onset_s"] * RATE): int(t["offset_s"] * RATE)] = _tone(1.0, i)
    # Turn 0: answered 0.6 s after it ended, clean. Turn 1: answered 0.8 s after, with a
    # gap of 7 frames off the frame grid of this check. Turn 2: never answered.
    agent[int(2.6 * RATE): int(3.6 * RATE)] = _tone(1.0, 10)
    reply = _tone(1.0, 11)
    gap_at = int(5.8 * RATE) + 4321
    agent[int(5.8 * RATE): gap_at] = reply[: gap_at - int(5.8 * RATE)]
    rest = reply[gap_at - int(5.8 * RATE):]
    agent[gap_at + 7 * FRAME: gap_at + 7 * FRAME + rest.size] = rest
    wav = tmp_path / "conversation.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.stack([user, agent], axis=1).tobytes())
    heard = turns_heard(wav, {"turns": turns})
    assert [t.latency_s for t in heard] == [pytest.approx(0.6), pytest.approx(0.8), None]
    assert [t.glitched_frames for t in heard] == [0, 7, 0]
    assert [t.gaps for t in heard] == [0, 1, 0]


def test_peers_and_slope(tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.md"
    anchors.write_text("# x\n\n## Session density with a realtime model (measured)\n\n"
                       "| system | sustained | gap-free | CPU per session | notes |\n"
                       "|---|---|---|---|---|\n"
                       "| pipecat 1.14 | 50 | 20 | 2.0 % of a core | one process |\n"
                       "| **voxpipe** | **250** | **250** | 0.47 % | all |\n\n"
                       "## Next\n| a | b | c | d |\n")
    assert peer_rows(anchors) == [
        {"system": "pipecat 1.14", "sustained": "50", "gap_free": "20",
         "cpu_per_session": "2.0 % of a core"},
        {"system": "voxpipe", "sustained": "250", "gap_free": "250", "cpu_per_session": "0.47 %"}]
    results = [{"sessions": 10, "cpu_pct_total": 15.0}, {"sessions": 30, "cpu_pct_total": 25.0}]
    assert slope_pct_per_session(results) == 0.5
