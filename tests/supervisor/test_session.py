"""Session.apply / quiet_since / should_close as tables: an event sequence and the
state it must leave (the whole state, not one field). No processes; times are taken
relative to what the session recorded, so no clock is needed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ipc.schema import (
    AgentStartedSpeaking,
    AgentStoppedSpeaking,
    FileTransport,
    InputEnded,
    InputProgress,
    ModelContextReplayed,
    ModelDisconnected,
    PlayoutGlitch,
    ResponseCreated,
    ResponseDone,
    SessionClosed,
    SessionConfig,
    SessionError,
    SessionEvent,
    StageEvent,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from pipeline.supervisor.session import Session, SessionSpec, Turn

EPS = 1e-6  # far above float resolution at monotonic() magnitudes


def session_spec(**overrides: Any) -> tuple[SessionSpec, SessionConfig]:
    """The one place these tests build a spec and its wire config."""
    transport = FileTransport("/in/call.wav", 16000, 1, 16000)
    spec = SessionSpec(transport, out_dir=Path("/out/s1"), model_url="ws://127.0.0.1:1")
    spec = replace(spec, **overrides)
    config = SessionConfig(session="s1", t0_ns=0, out_dir=str(spec.out_dir),
                           transport=transport)
    return spec, config


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def new_session(loop: asyncio.AbstractEventLoop, **spec_overrides: Any) -> Session:
    spec, config = session_spec(**spec_overrides)
    return Session("s1", spec, config, closed=loop.create_future())


def ev(event: SessionEvent, t_ms: float | None = None) -> StageEvent:
    return StageEvent("s1", "test", 0, event, t_ms)


def agent_started(t_ms: float) -> StageEvent:
    return ev(AgentStartedSpeaking("a1", 0, 1.0), t_ms)


def created(response_id: str) -> StageEvent:
    return ev(ResponseCreated(response_id))


def done(response_id: str) -> StageEvent:
    return ev(ResponseDone(response_id, "completed", None, None, None))


INPUT_ENDED = ev(InputEnded(100))
USER_STARTED = ev(UserStartedSpeaking("u1", 0))
AGENT_STOPPED = ev(AgentStoppedSpeaking("a1", False, 500.0, 500.0, 12000, "Hi."))
LINK_DROPPED = ev(ModelDisconnected(1006, None, recycled=False))


def state(s: Session) -> dict[str, Any]:
    return {"progress_frame": s.progress_frame, "input_ended": s.input_ended,
            "user_speaking": s.user_speaking, "agent_speaking": s.agent_speaking,
            "responses": s.responses, "error": s.error, "turns": s.turns, "wav": s.wav,
            "glitch_frames": s.glitch_frames, "glitch_runs": s.glitch_runs}


USER_TURN = [USER_STARTED, ev(UserStoppedSpeaking("u1", 1200))]

APPLY = {
    "progress only moves forward": (
        [ev(InputProgress(480)), ev(InputProgress(240))],
        {"progress_frame": 480}),
    "input ended": ([INPUT_ENDED], {"input_ended": True}),
    "user speaking": ([USER_STARTED], {"user_speaking": True}),
    "a user turn ends at audio_end_ms": (USER_TURN, {"turns": [Turn(1200.0)]}),
    "a user turn without audio_end_ms ends at t_ms": (
        [ev(UserStoppedSpeaking("u1", None), t_ms=900)], {"turns": [Turn(900.0)]}),
    "the agent answers the last turn": (
        [*USER_TURN, agent_started(1500)],
        {"agent_speaking": True, "turns": [Turn(1200.0, 1500.0)]}),
    "a second agent start keeps the first answer time": (
        [*USER_TURN, agent_started(1500), AGENT_STOPPED, agent_started(2500)],
        {"agent_speaking": True, "turns": [Turn(1200.0, 1500.0)]}),
    "agent audio before any turn makes no turn": (
        [agent_started(5), AGENT_STOPPED], {}),
    "open responses are tracked": (
        [created("r1"), created("r2"), done("r1")],
        {"responses": {"r2"}}),
    "a dropped model link closes every response": (
        [created("r1"), LINK_DROPPED], {}),
    "a fatal error is kept": (
        [ev(SessionError(True, "cannot reach the model"))],
        {"error": "cannot reach the model"}),
    "a fatal error without a message": ([ev(SessionError(True, ""))], {"error": "unknown error"}),
    "a non-fatal error is not the session's": ([ev(SessionError(False, "retrying"))], {}),
    "session closed with its recording": (
        [ev(SessionClosed("/out/s1/conversation.wav", 48000, 2.0))],
        {"wav": Path("/out/s1/conversation.wav")}),
    "session closed without a recording": ([ev(SessionClosed("", 0, 0.0))], {}),
    "glitch runs add up by cause": (
        [ev(PlayoutGlitch("underrun", 3, 4800, "a1")), ev(PlayoutGlitch("late", 50, 9600, "a1")),
         ev(PlayoutGlitch("underrun", 2, 19200, "a2"))],
        {"glitch_frames": {"underrun": 5, "late": 50}, "glitch_runs": 3}),
    # (a kind the bus does not know never gets here: the decoder drops it, counted)
    "an event the session does not track changes nothing": (
        [ev(ModelContextReplayed(items=3, pending=1))], {}),
}


@pytest.mark.parametrize("events, changed", APPLY.values(), ids=APPLY.keys())
def test_apply(loop: asyncio.AbstractEventLoop, events: list[StageEvent],
               changed: dict[str, Any]) -> None:
    s = new_session(loop)
    fresh = state(new_session(loop))
    for e in events:
        s.apply(e)
    assert state(s) == fresh | changed


def test_progress_is_not_activity_and_the_rest_is(loop: asyncio.AbstractEventLoop) -> None:
    s = new_session(loop)
    s.last_activity = 0.0
    s.apply(ev(InputProgress(10)))
    assert s.last_activity == 0.0
    s.apply(INPUT_ENDED)
    assert s.last_activity > 0.0 and s.input_ended_at == s.last_activity


IDLE, TAIL = 0.8, 60.0
# (events, ending, now measured from: "activity" | "input_ended", offset s) ->
# (quiet_since, should_close); quiet_since None = now - last activity. Offsets sit
# EPS past a bound, as the session's own times are floats from the real clock.
CLOSE = {
    "input still running": ([], False, "activity", 100.0, None, False),
    "quiet, not yet idle long enough": (
        [INPUT_ENDED], False, "activity", IDLE - EPS, None, False),
    "quiet for idle_close_s after the input ended": (
        [INPUT_ENDED], False, "activity", IDLE + EPS, None, True),
    "the user is speaking": (
        [INPUT_ENDED, USER_STARTED], False, "activity", 10.0, 0.0, False),
    "the agent is speaking": (
        [INPUT_ENDED, agent_started(1)], False, "activity", 10.0,
        0.0, False),
    "a response is open": (
        [INPUT_ENDED, created("r1")], False, "activity",
        10.0, 0.0, False),
    "the response is done": (
        [INPUT_ENDED, created("r1"),
         done("r1")], False, "activity", IDLE + EPS, None, True),
    "the model link dropped mid-response": (
        [INPUT_ENDED, created("r1"),
         LINK_DROPPED], False, "activity", IDLE + EPS, None, True),
    "busy, within max_tail_s": (
        [INPUT_ENDED, USER_STARTED], False, "input_ended", TAIL - EPS,
        0.0, False),
    "busy past max_tail_s": (
        [INPUT_ENDED, USER_STARTED], False, "input_ended", TAIL + EPS,
        0.0, True),
    "already ending": ([INPUT_ENDED], True, "activity", TAIL * 2, None, False),
}


@pytest.mark.parametrize("events, ending, since, offset, quiet, close", CLOSE.values(),
                         ids=CLOSE.keys())
def test_quiet_since_and_should_close(
    loop: asyncio.AbstractEventLoop, events: list[StageEvent], ending: bool, since: str,
    offset: float, quiet: float | None, close: bool,
) -> None:
    s = new_session(loop, idle_close_s=IDLE, max_tail_s=TAIL)
    for e in events:
        s.apply(e)
    s.ending = ending
    base = s.last_activity if since == "activity" else s.input_ended_at
    now = base + offset
    expected_quiet = now - s.last_activity if quiet is None else quiet
    assert s.quiet_since(now) == pytest.approx(expected_quiet, abs=EPS)
    assert s.should_close(now) is close


def test_summary_points_at_the_session_record(loop: asyncio.AbstractEventLoop) -> None:
    s = new_session(loop)
    for e in [*USER_TURN, ev(SessionError(True, "x")),
              ev(SessionClosed("/out/s1/conversation.wav", 48000, 2.0))]:
        s.apply(e)
    summary = s.summary()
    assert (summary.session, summary.out_dir, summary.error) == ("s1", Path("/out/s1"), "x")
    assert summary.turns == [Turn(1200.0)] and summary.wav == Path("/out/s1/conversation.wav")
    assert summary.events == Path("/out/s1/events.jsonl")


def test_summary_counts_the_sessions_glitches(loop: asyncio.AbstractEventLoop) -> None:
    s = new_session(loop)
    for e in [ev(PlayoutGlitch("late", 50, 0, "a1")), ev(PlayoutGlitch("underrun", 2, 0, "a1"))]:
        s.apply(e)
    summary = s.summary()
    assert (summary.glitch_frames, summary.glitch_runs, summary.glitches) == (
        {"late": 50, "underrun": 2}, 2, 52)


def test_timelines_start_on_the_grid_in_two_phases() -> None:
    from pipeline.supervisor.runtime import START_LEAD_NS, TICK_GRID_NS, timeline_origin

    now = 123_456_789_012
    t0s = [timeline_origin(now, n) for n in range(8)]
    assert all(t >= now + START_LEAD_NS for t in t0s)
    assert [t % TICK_GRID_NS for t in t0s] == [0, 10_000_000] * 4
    assert max(t0s) - min(t0s) < TICK_GRID_NS
