"""An ended session's record is written off the playout loop: ``on_session_end``
returns while its WAV is still being written, the other sessions play on, and the
closing event is logged only once the WAV is complete. A real ``PlayoutStage`` driven
by hand (``playout_harness``); the record's writing is held by an event, not timed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipc.schema import AgentItemDone
from pipeline.record.session_record import SessionRecord
from pipeline.stages.playout import PlayoutStage
from tests.pipeline.playout_harness import (
    FRAME,
    FRAME_NS,
    agent_audio,
    agent_channel,
    end_session,
    playout_stage,
    samples,
    start_session,
)


@pytest.fixture
def stage() -> Iterator[PlayoutStage]:
    with playout_stage() as st:
        yield st


def _events(out: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]


def test_a_session_ending_does_not_hold_the_others(stage: PlayoutStage, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ending, out_ending = start_session(stage, tmp_path, "ending")
    _, out_playing = start_session(stage, tmp_path, "playing", t0_ns=ending.t0_ns)
    t0 = ending.t0_ns
    stage.on_data(agent_audio("ending", "e", 2 * FRAME, 0))
    stage.on_data(AgentItemDone("ending", "e", False))
    stage.on_data(agent_audio("playing", "p", 8 * FRAME, 0))
    stage.on_data(AgentItemDone("playing", "p", False))
    for k in range(3):
        stage.on_tick(t0 + k * FRAME_NS)

    release, writing = threading.Event(), threading.Event()
    real = SessionRecord.finalize

    def held(record: SessionRecord) -> int:
        writing.set()
        assert release.wait(30), "the test never released the record"
        return real(record)

    monkeypatch.setattr(SessionRecord, "finalize", held)
    stage.on_session_end("ending")  # returns with the WAV unwritten
    assert writing.wait(30)
    for k in range(3, 9):  # the other session plays its item out meanwhile
        stage.on_tick(t0 + k * FRAME_NS)
    assert not (out_ending / "conversation.wav").exists()
    assert "session_closed" not in [e["type"] for e in _events(out_ending)]
    assert stage.stats.counters["late_frames_skipped"] == 0

    release.set()
    stage.close_records(wait=True)
    closed = [e for e in _events(out_ending) if e["type"] == "session_closed"]
    assert len(closed) == 1 and closed[0]["frames"] == 2 * FRAME
    assert (agent_channel(out_ending)[:2 * FRAME] == samples(2 * FRAME, 0)).all()
    assert len(stage.closer) == 0
    monkeypatch.setattr(SessionRecord, "finalize", real)
    end_session(stage, "playing")
    assert (agent_channel(out_playing)[:8 * FRAME] == samples(8 * FRAME, 0)).all()


def test_a_record_that_cannot_be_written_is_reported_and_the_session_still_closes(
        stage: PlayoutStage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, out = start_session(stage, tmp_path, "full")

    def disk_full(record: SessionRecord) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SessionRecord, "finalize", disk_full)
    stage.on_session_end("full")
    stage.close_records(wait=True)
    kinds = [(e["type"], e.get("fatal")) for e in _events(out)]
    assert ("error", False) in kinds and kinds[-1][0] == "session_closed"
    assert stage.stats.counters["record_finalize_errors"] == 1


def test_records_close_in_the_order_the_sessions_ended(stage: PlayoutStage,
                                                       tmp_path: Path) -> None:
    outs = [start_session(stage, tmp_path, f"s{n}")[1] for n in range(5)]
    for n in range(5):
        stage.on_session_end(f"s{n}")
    stage.on_shutdown()  # waits for every record
    for out in outs:
        assert [e["type"] for e in _events(out)][-1] == "session_closed"
        assert (out / "conversation.wav").exists()
