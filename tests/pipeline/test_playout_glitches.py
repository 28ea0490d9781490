"""Playout's glitch accounting on an injected clock: every frame of agent audio that
should have played and did not is counted for its session and logged once per run.

A real ``PlayoutStage`` (its sockets bound in a scratch runtime dir, nobody on the far
end) is driven by calling ``on_tick(now_ns)`` with chosen times: no sleeps, no timing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ipc.schema import AgentAudio, AgentItemDone, SessionConfig
from pipeline.stages.playout import MAX_LATE_FRAMES, PlayoutStage
from pipeline.stages.playout_glitches import GlitchRuns
from tests.pipeline.playout_harness import (
    FRAME,
    FRAME_NS,
    RATE,
    agent_audio,
    agent_channel,
    playout_stage,
    start_session,
)

SKIP = MAX_LATE_FRAMES + 10  # a jump of the clock long enough to be skipped


@pytest.fixture
def stage() -> Iterator[PlayoutStage]:
    with playout_stage() as st:
        yield st


def _session(stage: PlayoutStage, tmp_path: Path, sid: str) -> tuple[SessionConfig, Path]:
    return start_session(stage, tmp_path, sid)


def _audio(sid: str, item: str, samples: int, start: int) -> AgentAudio:
    return agent_audio(sid, item, samples, start)


def _glitches(out: Path) -> list[dict[str, object]]:
    lines = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    return [x for x in lines if x["type"] == "playout_glitch"]


def test_late_skip_and_underrun_mid_item_are_counted_idle_time_is_not(
        stage: PlayoutStage, tmp_path: Path) -> None:
    cfg, out = _session(stage, tmp_path, "g1")
    idle, _ = _session(stage, tmp_path, "idle")
    t0 = cfg.t0_ns

    def tick(frame: int) -> None:
        stage.on_tick(t0 + frame * FRAME_NS)

    for k in range(3):
        tick(k)
    tick(3 + SKIP)  # idle: the clock jumps, nothing should have played
    frame = 4 + SKIP
    stage.on_data(_audio("g1", "a", 10 * FRAME, 0))
    for _ in range(5):  # five frames of item "a" play
        tick(frame)
        frame += 1
    frame += SKIP  # stopped mid-item: the clock skips SKIP frames
    for _ in range(5):  # the other five play after the gap
        tick(frame)
        frame += 1
    for _ in range(3):  # the item is mid-stream and its audio has not come: underrun
        tick(frame)
        frame += 1
    stage.on_data(_audio("g1", "a", 2 * FRAME, 10 * FRAME))
    stage.on_data(AgentItemDone("g1", "a", False))
    for _ in range(4):  # the rest, the item's end, then idle
        tick(frame)
        frame += 1
    counted = stage.stats.session_snapshot()
    stage.on_session_end("g1")
    stage.on_session_end("idle")

    assert counted["g1"] == {"glitch_frames.late": SKIP, "glitch_frames.underrun": 3}
    assert "idle" not in counted
    first = (4 + SKIP + 5) * FRAME
    assert _glitches(out) == [
        {"t_ms": first / RATE * 1000, "session": "g1", "type": "playout_glitch",
         "origin": "playout", "cause": "late", "frames": SKIP, "position": first,
         "item_id": "a"},
        {"t_ms": (first + (SKIP + 5) * FRAME) / RATE * 1000, "session": "g1",
         "type": "playout_glitch", "origin": "playout", "cause": "underrun", "frames": 3,
         "position": first + (SKIP + 5) * FRAME, "item_id": "a"}]
    assert _glitches(Path(idle.out_dir)) == []
    # The recording's agent channel has exactly those gaps, and the audio around them.
    agent = agent_channel(out)
    start = (4 + SKIP) * FRAME
    sent = (np.arange(12 * FRAME) % 20000 + 1).astype("<i2")
    expected = np.concatenate([sent[:5 * FRAME], np.zeros(SKIP * FRAME, "<i2"),
                               sent[5 * FRAME:10 * FRAME], np.zeros(3 * FRAME, "<i2"),
                               sent[10 * FRAME:]])
    assert np.array_equal(agent[start:start + expected.size], expected)
    assert not agent[:start].any() and not agent[start + expected.size:].any()


def test_glitch_runs_fold_frames_into_one_event_per_run() -> None:
    runs = GlitchRuns()
    assert runs.frame(None, 0, 0.0, "") is None
    assert runs.frame("underrun", 480, 20.0, "a") is None
    assert runs.frame("underrun", 960, 40.0, "a") is None
    closed = runs.frame(None, 1440, 60.0, "a")
    assert closed is not None and (closed.cause, closed.frames, closed.position) == (
        "underrun", 2, 480)
    runs.frame("underrun", 1920, 80.0, "a")
    late = runs.skipped(15, 2400, 100.0, "a")
    assert [(r.cause, r.frames, r.position) for r in late] == [
        ("underrun", 1, 1920), ("late", 15, 2400)]
    assert runs.open is None and runs.close() is None
