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
from pipeline.stages.playout_glitches import Gap, GapTracker
from tests.pipeline.playout_harness import (
    FRAME,
    FRAME_NS,
    RATE,
    agent_audio,
    agent_channel,
    end_session,
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
    end_session(stage, "g1")
    end_session(stage, "idle")

    assert counted["g1"] == {"glitch_frames.late": SKIP, "glitch_frames.underrun": 3}
    assert "idle" not in counted
    first = (4 + SKIP + 5) * FRAME
    assert _glitches(out) == [
        {"t_ms": first / RATE * 1000, "session": "g1", "type": "playout_glitch",
         "origin": "playout", "cause": "late", "frames": SKIP, "position": first,
         "item_id": "a", "samples": SKIP * FRAME},
        {"t_ms": (first + (SKIP + 5) * FRAME) / RATE * 1000, "session": "g1",
         "type": "playout_glitch", "origin": "playout", "cause": "underrun", "frames": 3,
         "position": first + (SKIP + 5) * FRAME, "item_id": "a", "samples": 3 * FRAME}]
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


def test_a_gap_is_silence_between_two_pieces_of_one_items_audio() -> None:
    gaps = GapTracker()
    assert gaps.played(0, "a", "a", FRAME) is None  # the item's first audio
    assert gaps.played(FRAME, "a", "a", 200) is None  # contiguous, then it ran dry
    # Two frames later its audio resumes: the rest of the partial frame and two frames.
    assert gaps.played(4 * FRAME, "a", "a", FRAME) == Gap(
        "underrun", 3 * FRAME - 200, FRAME + 200, "a")
    assert Gap("underrun", 3 * FRAME - 200, 0, "a").frames(FRAME) == 3  # partial: one
    gaps.skipped()  # the clock jumped while "a" was mid-stream
    late = gaps.played(20 * FRAME, "a", "b", FRAME)  # "a" ends and "b" starts in the frame
    assert late == Gap("late", 15 * FRAME, 5 * FRAME, "a")
    gaps.stopped("a")  # no longer the last audio's item: nothing happens
    assert gaps.played(23 * FRAME, "b", "b", FRAME) is not None  # "b" resumed after silence
    gaps.stopped("b")  # played out (or cut): the silence after it is no gap
    assert gaps.played(30 * FRAME, "c", "c", FRAME) is None
    gaps.skipped()
    assert gaps.played(31 * FRAME, "c", "c", FRAME) is None  # contiguous: nothing skipped
