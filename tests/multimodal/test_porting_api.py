"""The livekit-agents 0.12 surface ported agents use: names, the emitter's arity rule,
``cli.run_app`` modes and prewarm, ``AutoSubscribe``, and the refusal of in-process
(seed ``_RealtimeAPI``) models."""

from __future__ import annotations

import asyncio
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import pipeline.agents as agents
from pipeline.agents import cli
from pipeline.agents.event_emitter import EventEmitter
from pipeline.agents.job import AutoSubscribe
from pipeline.agents.multimodal import MultimodalAgent
from pipeline.agents.runner import AgentFileError, load_entrypoint
from pipeline.agents.worker import WorkerOptions
from pipeline.plugins import openai

AGENT_NAMES_012 = ("JobContext", "JobProcess", "AutoSubscribe", "WorkerOptions", "WorkerType",
                   "WorkerPermissions", "cli", "llm", "multimodal", "metrics", "tokenize",
                   "utils", "vad", "AgentState", "ATTRIBUTE_AGENT_STATE")


def test_the_names_012_agents_import() -> None:
    for name in AGENT_NAMES_012:
        assert getattr(agents, name) is not None, name
    assert agents.utils.EventEmitter is EventEmitter
    assert agents.ATTRIBUTE_AGENT_STATE == "lk.agent.state"
    assert [a.value for a in AutoSubscribe] == [
        "subscribe_all", "subscribe_none", "audio_only", "video_only"]
    rt = openai.realtime
    default_vad = rt.ServerVadOptions(
        threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500, create_response=True)
    assert default_vad == rt.DEFAULT_SERVER_VAD_OPTIONS
    assert rt.InputTranscriptionOptions(model="whisper-1") == rt.DEFAULT_INPUT_AUDIO_TRANSCRIPTION


def test_handlers_get_only_the_arguments_they_take() -> None:
    em: EventEmitter[str] = EventEmitter()
    got: list[tuple[Any, ...]] = []
    em.on("e", lambda: got.append(()))
    em.on("e", lambda a: got.append((a,)))
    em.on("e", lambda *a: got.append(a))
    em.on("e", lambda a, b, c=3: got.append((a, b, c)))

    class Handler:
        def method(self, a: int) -> None:
            got.append(("method", a))

    em.on("e", Handler().method)
    em.once("e", lambda: got.append(("once",)))
    em.emit("e", 1, 2)
    em.emit("e", 1, 2)
    assert got == [(), (1,), (1, 2), (1, 2, 3), ("method", 1), ("once",),
                   (), (1,), (1, 2), (1, 2, 3), ("method", 1)]


def test_realtime_model_takes_012_arguments_and_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="OpenAI API key is required"):
        openai.realtime.RealtimeModel()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    model = openai.realtime.RealtimeModel(
        voice="echo", temperature=0.6, instructions="Hi.", modalities=["text", "audio"],
        turn_detection=openai.realtime.ServerVadOptions(
            threshold=0.6, prefix_padding_ms=200, silence_duration_ms=700),
        input_audio_transcription=None, max_response_output_tokens=300, tool_choice="none")
    assert (model.api_key, model.base_url) == ("sk-env", "ws://127.0.0.1:9/v1")
    s = model.settings.session
    assert (s.voice, s.temperature, s.instructions, s.modalities) == (
        "echo", 0.6, "Hi.", ("audio",))
    assert s.turn_detection is not None and (
        s.turn_detection.threshold, s.turn_detection.prefix_padding_ms,
        s.turn_detection.silence_duration_ms) == (0.6, 200, 700)
    assert (s.input_transcription_model, s.max_output_tokens, s.tool_choice) == (
        None, 300, "none")
    assert asyncio.run(model.url()) == "ws://127.0.0.1:9/v1/realtime?model=gpt-realtime"
    semantic = openai.realtime.RealtimeModel(
        turn_detection=openai.realtime.SemanticVadOptions(eagerness="low"))  # type: ignore[arg-type]
    td = semantic.settings.session.turn_detection
    assert td is not None and (td.type, td.eagerness) == ("semantic_vad", "low")


class _SeedShapedModel:
    """A model written against the seed's in-process ``_RealtimeAPI`` protocol."""

    capabilities = types.SimpleNamespace(supports_truncate=True)

    def session(self, *, chat_ctx: Any = None, fnc_ctx: Any = None) -> Any:
        return types.SimpleNamespace(on=lambda *a: None)


def test_an_in_process_model_is_refused_with_the_way_to_add_one() -> None:
    with pytest.raises(TypeError) as err:
        MultimodalAgent(model=_SeedShapedModel())
    message = str(err.value)
    assert "_RealtimeAPI" in message and "'voxpipe.providers'" in message
    for supported in ("pipeline.plugins.openai.realtime.RealtimeModel",
                      "pipeline.plugins.offline.realtime.RealtimeModel"):
        assert supported in message
    assert "\n" not in message


APP = '''
from pipeline.agents import JobContext, JobProcess, WorkerOptions, cli

def prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = "loaded"

async def _entry(ctx: JobContext) -> str:
    return ctx.proc.userdata["vad"]

if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=_entry, prewarm_fnc=prewarm))
    raise SystemExit("run_app returned")
'''


def test_a_run_app_only_file_loads_with_its_prewarm(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text(APP)
    entry = load_entrypoint(path)
    ctx = types.SimpleNamespace(proc=None)
    assert asyncio.run(entry(ctx)) == "loaded"  # type: ignore[arg-type]
    # run_app called from a main() function under the __main__ block: found too.
    path.write_text(APP.replace('if __name__ == "__main__":\n    cli.run_app(',
                                'def main() -> None:\n    cli.run_app(')
                    + 'if __name__ == "__main__":\n    main()\n')
    assert asyncio.run(load_entrypoint(path)(ctx)) == "loaded"  # type: ignore[arg-type]
    path.write_text(APP.replace('proc.userdata["vad"] = "loaded"', "1 / 0"))
    with pytest.raises(AgentFileError, match="prewarm_fnc failed: ZeroDivisionError"):
        load_entrypoint(path)


async def _noop(ctx: Any) -> None:
    del ctx


def test_worker_modes_call_run_worker(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    opts = WorkerOptions(entrypoint_fnc=_noop)
    calls: list[tuple[Any, ...]] = []

    def run_worker(o: WorkerOptions, mode: str, **kw: Any) -> int:
        calls.append((o, mode, kw))
        return 7

    fake = types.ModuleType("pipeline.agents.dispatch")
    fake.run_worker = run_worker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pipeline.agents.dispatch", fake)
    assert cli.main(opts, ["connect", "--room", "r1", "--participant-identity", "p"]) == 7
    assert cli.main(opts, ["dev"]) == 7
    assert calls == [
        (opts, "connect", {"room": "r1", "participant_identity": "p", "log_level": "INFO"}),
        (opts, "dev", {"room": None, "participant_identity": None, "log_level": "INFO"})]
    assert cli.main(opts, ["download-files"]) == 0
    monkeypatch.setitem(sys.modules, "pipeline.agents.dispatch", None)  # not importable
    assert cli.main(opts, ["start"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "LiveKit worker is not available" in err[0]


def test_agent_playout_handles_and_events() -> None:
    from pipeline.agents.multimodal import AgentTranscriptionOptions
    from pipeline.agents.multimodal.agent_playout import AgentPlayout, PlayoutHandle

    playout = AgentPlayout()
    events: list[tuple[Any, ...]] = []
    playout.on("playout_started", lambda: events.append(("started",)))
    playout.on("playout_stopped", lambda interrupted: events.append(("stopped", interrupted)))
    cut: list[PlayoutHandle] = []
    opts = AgentTranscriptionOptions(agent_transcription_speed=1.0)
    handle = playout.play("it1", 0, opts, lambda h, s: None, cut.append)
    assert (handle.item_id, handle.content_index, playout.playing) == ("it1", 0, handle)
    handle.on_text("Hello there. ", 12000)
    handle.on_text("How are you?", 24000)
    playout.started("it1")
    handle.on_progress(12000)
    assert handle.audio_samples == 12000 and 0 < handle.text_chars < len("Hello there. ")
    assert not handle.done() and not handle.interrupted
    handle.interrupt()
    assert cut == [handle]  # the agent's cut: playout stops it and reports what played
    playout.stopped("it1", played=14400, received_ms=1000.0, interrupted=True)
    assert handle.done() and handle.interrupted and handle.audio_samples == 14400
    assert playout.playing is handle and playout.get("it1") is None  # the seed keeps it
    assert handle._tr_fwd.played_text.startswith("Hello")  # 0.12's name, read by agents
    handle.interrupt()  # done: nothing more
    assert cut == [handle] and events == [("started",), ("stopped", True)]
