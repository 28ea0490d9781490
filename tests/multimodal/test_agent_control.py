"""generate_reply's on_duplicate, an interruption before any sample played, a dropped
model websocket mid-response, and tools that fail — each through the real processes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from pipeline.agents import llm
from pipeline.agents.job import JobContext
from pipeline.agents.multimodal import MultimodalAgent
from pipeline.agents.realtime.function_calls import ToolError
from pipeline.agents.realtime.session_events import ContentInfo
from pipeline.plugins.offline import realtime as offline
from tests.multimodal.agent_harness import CallRecord, run_call, script_wav


def _on_first_listening(agent: MultimodalAgent, fn: Any) -> None:
    fired = []

    def on_state(state: str) -> None:
        if state == "listening" and not fired:
            fired.append(state)
            fn()

    agent.on("agent_state_changed", on_state)


def test_generate_reply_on_duplicate(tmp_path: Any) -> None:
    script_wav(tmp_path / "in.wav", [], total_s=9.0)

    async def make(ctx: JobContext) -> MultimodalAgent:
        agent = MultimodalAgent(model=offline.RealtimeModel(instructions="Your name is Ava."))

        def greet() -> None:
            agent.generate_reply()  # 1: a greeting
            agent.generate_reply("cancel_new")  # ignored: one is in progress
            agent.generate_reply("cancel_existing")  # cancels 1, asks for 2
            agent.generate_reply("keep_both")  # 3, after 2 is done

        _on_first_listening(agent, greet)
        return agent

    rec = run_call(tmp_path / "in.wav", tmp_path / "out", make)
    created = rec.log("response_created")
    done = {r["response_id"]: r["status"] for r in rec.log("response_done")}
    assert len(created) == 3, created
    statuses = [done.get(r["response_id"]) for r in created]
    assert statuses == ["cancelled", "completed", "completed"], statuses
    # 3 was created only after 2 was done (the API allows one at a time).
    t_done_2 = next(r["t_ms"] for r in rec.log("response_done")
                    if r["response_id"] == created[1]["response_id"])
    assert created[2]["t_ms"] >= t_done_2
    assert len(rec.named("agent_speech_committed")) == 2
    with pytest.raises(ValueError, match="on_duplicate"):
        MultimodalAgent(model=offline.RealtimeModel()).generate_reply("both")  # type: ignore[arg-type]


def test_interrupt_before_any_audio_deletes_the_item(tmp_path: Any) -> None:
    script_wav(tmp_path / "in.wav", [(0.5, "hello")], total_s=6.0)
    interrupted: list[str] = []

    async def make(ctx: JobContext) -> MultimodalAgent:
        agent = MultimodalAgent(model=offline.RealtimeModel())

        def cut(info: ContentInfo) -> None:
            if info.content_type == "audio" and not interrupted:
                interrupted.append(info.item_id)
                agent.interrupt()  # within the first 20 ms: nothing has played yet

        _on_first_listening(agent, lambda: agent.session.on("response_content_added", cut))
        return agent

    rec = run_call(tmp_path / "in.wav", tmp_path / "out", make)
    assert len(interrupted) == 1
    deleted = [r["item_id"] for r in rec.log("agent_item_deleted")]
    truncated = rec.log("agent_item_truncated")
    # The interrupt races playout's first frame (it goes through the supervisor): when
    # that frame won, the item is truncated at what played, never at 0 ms.
    assert all(t["audio_end_ms"] > 0 for t in truncated)
    if deleted:
        assert deleted == interrupted and not truncated
    else:
        played = [r["played_ms"] for r in rec.log("agent_stopped_speaking")
                  if r["item_id"] == interrupted[0]]
        assert [t["audio_end_ms"] for t in truncated] == [int(p) for p in played]
        assert played[0] <= 40, "the interrupt came later than two frames"


def test_dropped_websocket_reconnects_with_context(tmp_path: Any) -> None:
    # The second answer is cut by a dropped websocket (code 1011); the third turn asks
    # the same question of the new model-side session.
    script_wav(tmp_path / "in.wav", [(0.5, "hello"), (6.0, "your_name"), (11.0, "your_name")],
               total_s=15.5)

    async def make(ctx: JobContext) -> MultimodalAgent:
        model = offline.RealtimeModel(instructions="Your name is Ava.", options={
            "fault": "close_mid_response", "fault_after": 1, "fault_id": uuid.uuid4().hex})
        return MultimodalAgent(model=model)

    rec = run_call(tmp_path / "in.wav", tmp_path / "out", make)
    log = rec.log()
    kinds = [r["type"] for r in log]
    assert kinds.count("model_connected") == 2, "no reconnect"
    drop = next(r for r in log if r["type"] == "model_disconnected")
    assert drop["code"] == 1011
    replays = rec.log("model_context_replayed")
    # hello, its answer and the question whose answer was cut came back.
    assert len(replays) == 2 and replays[1]["items"] >= 2, replays
    # The reply in flight at the drop is reported as interrupted ...
    cut = [r for r in log if r["type"] == "agent_stopped_speaking" and r["interrupted"]]
    assert len(cut) == 1 and cut[0]["t_ms"] >= drop["t_ms"]
    assert len(rec.named("agent_speech_interrupted")) == 1
    # ... and the conversation goes on, instructions included.
    answers = [a[0] for a in rec.named("agent_speech_committed")]
    assert answers[-1] == "My name is Ava.", answers


class FailingTools(llm.FunctionContext):
    @llm.ai_callable()
    async def get_weather(self, location: str) -> str:
        """Called when the user asks about the weather."""
        raise RuntimeError(f"weather service down for {location}")

    @llm.ai_callable()
    async def set_timer(self, minutes: int) -> str:
        """Set a timer for some minutes."""
        await asyncio.sleep(60)
        return "never"

    @llm.ai_callable()
    async def book_table(self, people: int) -> object:
        """Book a table at the restaurant."""
        return object()


@pytest.fixture(scope="module")
def failing_call(tmp_path_factory: pytest.TempPathFactory) -> CallRecord:
    tmp = tmp_path_factory.mktemp("tools")
    script_wav(tmp / "in.wav", [(0.5, "weather_paris"), (6.5, "timer_five"),
                                (12.5, "book_table")], total_s=18.0)

    async def make(ctx: JobContext) -> MultimodalAgent:
        return MultimodalAgent(model=offline.RealtimeModel(), fnc_ctx=FailingTools(),
                               tool_timeout_s=0.5)

    return run_call(tmp / "in.wav", tmp / "out", make)


def _finished(rec: CallRecord, name: str) -> llm.CalledFunction:
    for (called,) in rec.named("function_calls_finished"):
        for fn in called:
            if fn.call_info.function_info.name == name:
                return fn
    raise AssertionError(f"{name} never finished")


def _answered_after(rec: CallRecord, name: str) -> None:
    calls = [r for r in rec.log("function_call") if r["name"] == name]
    assert calls, f"the model never called {name}"
    later = [r for r in rec.log("agent_started_speaking") if r["t_ms"] > calls[0]["t_ms"]]
    assert later, f"no spoken answer after {name} failed"


def test_tool_that_raises(failing_call: CallRecord) -> None:
    fn = _finished(failing_call, "get_weather")
    assert isinstance(fn.exception, RuntimeError) and "down for Paris" in str(fn.exception)
    _answered_after(failing_call, "get_weather")


def test_tool_that_hangs(failing_call: CallRecord) -> None:
    fn = _finished(failing_call, "set_timer")
    assert isinstance(fn.exception, ToolError) and "0.5 s" in str(fn.exception)
    _answered_after(failing_call, "set_timer")


def test_tool_that_returns_no_json(failing_call: CallRecord) -> None:
    fn = _finished(failing_call, "book_table")
    assert isinstance(fn.exception, ToolError) and "not JSON" in str(fn.exception)
    _answered_after(failing_call, "book_table")


def test_model_session_recycled_before_its_cap(tmp_path: Any) -> None:
    # The second request comes well after the first answer, even on a loaded machine: a
    # barge-in would cut that answer for a reason this test is not about.
    script_wav(tmp_path / "in.wav", [(0.5, "hello"), (8.0, "your_name")], total_s=12.0)

    async def make(ctx: JobContext) -> MultimodalAgent:
        # A 4 s cap stands in for the provider's 60 minutes.
        model = offline.RealtimeModel(instructions="Your name is Ava.", max_session_s=4.0)
        return MultimodalAgent(model=model)

    rec = run_call(tmp_path / "in.wav", tmp_path / "out", make)
    drops = rec.log("model_disconnected")
    assert drops and all(d["recycled"] for d in drops)
    # Recycled between responses, never during one: no answer was cut.
    assert not rec.named("agent_speech_interrupted")
    replays = rec.log("model_context_replayed")
    assert len(replays) == len(drops) + 1 and replays[-1]["items"] >= 2
    answers = [a[0] for a in rec.named("agent_speech_committed")]
    assert any("Ava" in a for a in answers), answers


def test_set_chat_ctx_deletes_the_fewest_items_and_the_model_acks_them(tmp_path: Any) -> None:
    """0.12's ``openai_agent.py`` trims the context in ``agent_speech_committed``: here
    the first turn (user and agent) goes, and ``set_chat_ctx`` returns once the offline
    server has acknowledged both deletions."""
    script_wav(tmp_path / "in.wav", [(0.5, "hello"), (6.0, "your_name")], total_s=11.0)
    synced: list[list[str]] = []

    async def make(ctx: JobContext) -> MultimodalAgent:
        agent = MultimodalAgent(model=offline.RealtimeModel(instructions="Your name is Ava."))

        async def trim() -> None:
            chat = agent.chat_ctx_copy()
            dropped = [m.id or "" for m in chat.messages]
            chat.messages = []
            await agent.set_chat_ctx(chat)
            synced.append(dropped)

        @agent.on("agent_speech_committed")
        def on_committed() -> None:
            if not synced:
                asyncio.get_running_loop().create_task(trim())

        return agent

    rec = run_call(tmp_path / "in.wav", tmp_path / "out", make)
    assert len(synced) == 1 and len(synced[0]) == 2, synced  # the user's turn, the reply
    acks = rec.log("conversation_item_acked")
    assert [(a["item_id"], a["created"]) for a in acks] == [(i, False) for i in synced[0]]
    # The conversation goes on: the second turn is answered.
    assert len(rec.named("agent_speech_committed")) == 2


def test_ctx_shutdown_ends_the_call(tmp_path: Any) -> None:
    """``ctx.shutdown()`` (0.12's ``JobContext.shutdown``) ends the job: the second turn,
    later in the input, is never heard."""
    script_wav(tmp_path / "in.wav", [(0.5, "hello"), (9.0, "your_name")], total_s=13.0)

    async def make(ctx: JobContext) -> MultimodalAgent:
        agent = MultimodalAgent(model=offline.RealtimeModel())
        agent.on("agent_speech_committed", lambda: ctx.shutdown("said hello"))
        return agent

    rec = run_call(tmp_path / "in.wav", tmp_path / "out", make)
    assert rec.summary is not None
    assert len(rec.named("agent_speech_committed")) == 1
    assert len(rec.named("user_speech_committed")) == 1
