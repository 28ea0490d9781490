"""Playout with a far end that acknowledges what it played (a Twilio media stream): a
real ``PlayoutStage`` driven by ``on_tick`` at chosen times (no sleeps), its sends and
bus events captured. Truncation and progress follow the acknowledged tick, not the
pacing; a transport that acknowledges nothing keeps the pacing's count."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from ipc.schema import (
    AgentAudio,
    AgentPlayoutProgress,
    EdgeFrame,
    EdgeHeard,
    PlayoutFlush,
    SessionConfig,
    SessionEvent,
    Transport,
    TruncatePoint,
    TwilioTransport,
    WebTransport,
)
from pipeline.stages.playout import PlayoutStage
from tests.pipeline.playout_harness import playout_stage

RATE = 24000
FRAME = 480
FRAME_NS = 20_000_000


class Captured(PlayoutStage):
    """The stage, with what it sends and publishes kept instead of sent."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.sent: list[tuple[str, msgspec.Struct]] = []
        self.published: list[SessionEvent] = []

    def send(self, dst: str, msg: msgspec.Struct) -> bool:
        self.sent.append((dst, msg))
        return True

    def emit(self, session: str, event: SessionEvent, t_ms: float | None = None,
             origin: str = "") -> None:
        self.published.append(event)


@pytest.fixture
def stage() -> Iterator[Captured]:
    with playout_stage(Captured) as st:
        yield st


def _play_ten_frames_then_hear_four(stage: Captured, tmp_path: Path,
                                    transport: Transport) -> list[Any]:
    """An item of 20 frames; 10 frames paced out, the far end acknowledges ticks 0-3,
    the progress of tick 10, then a barge-in: what went to the model and the bus."""
    sid = "s1"
    t0 = time.monotonic_ns() + 3600 * 10**9  # an hour ahead: frame 0 is due at t0
    cfg = SessionConfig(sid, t0, str(tmp_path / sid), transport, output_rate=RATE, agent=True)
    stage.on_session_start(cfg, resumed=False)
    stage.on_data(AgentAudio(sid, "item", 0, 0, RATE, b"\x01\x00" * (20 * FRAME), 0))
    for k in range(10):
        stage.on_tick(t0 + k * FRAME_NS)
    ticks = [m.seq for dst, m in stage.sent if isinstance(m, EdgeFrame)]
    assert ticks == list(range(10))
    stage.on_data(EdgeHeard(sid, 3))
    stage.on_tick(t0 + 10 * FRAME_NS)  # a progress tick (every 5 frames)
    stage.on_data(PlayoutFlush(sid, "speech_started", t0))
    truncated = [m for dst, m in stage.sent if dst == "model" and isinstance(m, TruncatePoint)]
    progress = [e for e in stage.published if isinstance(e, AgentPlayoutProgress)]
    return [truncated, progress]


def test_an_acknowledging_far_end_truncates_and_progresses_at_what_it_heard(
        stage: Captured, tmp_path: Path) -> None:
    truncated, progress = _play_ten_frames_then_hear_four(
        stage, tmp_path, TwilioTransport("s1", "/nowhere"))
    assert [(p.item_id, p.played) for p in progress] == [("item", 0), ("item", 4 * FRAME)]
    assert [(t.item_id, t.played_samples, t.received_samples) for t in truncated] == [
        ("item", 4 * FRAME, 20 * FRAME)]


def test_a_far_end_that_acknowledges_nothing_keeps_the_pacing_count(
        stage: Captured, tmp_path: Path) -> None:
    truncated, progress = _play_ten_frames_then_hear_four(
        stage, tmp_path, WebTransport("s1", "v=0"))
    assert [(p.item_id, p.played) for p in progress] == [
        ("item", 5 * FRAME), ("item", 10 * FRAME)]
    assert [(t.item_id, t.played_samples) for t in truncated] == [("item", 11 * FRAME)]
