"""A scripted call through the real processes and the offline model: turns, a tool
round trip, a text answer recovered, a barge-in on the local VAD, and the agent
transcript checked word by word against the audio actually played."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pytest

from pipeline.agents import llm
from pipeline.agents.job import JobContext
from pipeline.agents.multimodal import MultimodalAgent, MultimodalMetrics
from pipeline.agents.vad import VAD
from pipeline.plugins.offline import realtime as offline
from tests.multimodal.agent_harness import CallRecord, run_call, script_wav
from tests.pipeline.audio_checks import read_stereo


class WeatherFnc(llm.FunctionContext):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    @llm.ai_callable()
    async def get_weather(
        self, location: Annotated[str, llm.TypeInfo(description="The city")]
    ) -> dict[str, Any]:
        """Called when the user asks about the weather."""
        self.calls.append(location)
        return {"location": location, "temperature": 21, "conditions": "sunny"}


# hello (text answer, recovered), weather (tool round trip, long spoken answer),
# "what is your name" spoken over that answer (barge-in), thanks.
TURNS = [(0.5, "hello"), (5.5, "weather_paris"), (10.0, "your_name"), (14.5, "thanks")]


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> tuple[CallRecord, WeatherFnc]:
    tmp = tmp_path_factory.mktemp("agent-call")
    script_wav(tmp / "in.wav", TURNS, total_s=19.0)
    fnc = WeatherFnc()

    async def make(ctx: JobContext) -> MultimodalAgent:
        model = offline.RealtimeModel(instructions="Your name is Ava.",
                                    options={"text_responses": 1})
        return MultimodalAgent(model=model, vad=VAD.load(), fnc_ctx=fnc)

    return run_call(tmp / "in.wav", tmp / "out", make), fnc


def test_event_sequence_and_payloads(call: tuple[CallRecord, WeatherFnc]) -> None:
    rec, fnc = call
    assert rec.summary is not None and rec.summary.error is None
    names = rec.names()
    committed = [args[0] for args in rec.named("user_speech_committed")]
    assert len(committed) == 4, committed
    assert "paris" in committed[1].lower() and "name" in committed[2].lower()
    # The tool ran once, with the recognised city, and both events carried it.
    assert fnc.calls == ["Paris"]
    (collected,), = rec.named("function_calls_collected")
    assert [c.function_info.name for c in collected] == ["get_weather"]
    assert collected[0].arguments == {"location": "Paris"}
    (finished,), = rec.named("function_calls_finished")
    assert finished[0].result == {"location": "Paris", "temperature": 21, "conditions": "sunny"}
    assert finished[0].exception is None
    # User transcripts reach the timeline interim (growing) and final.
    user_tr = rec.log("user_transcription")
    assert any(not r["final"] and r["text"] for r in user_tr)
    assert [r["text"] for r in user_tr if r["final"]] == committed
    # Every user turn: started -> stopped -> committed, in that order.
    user = [n for n in names if n.startswith("user_")]
    assert user == ["user_started_speaking", "user_stopped_speaking",
                    "user_speech_committed"] * 4, user
    # Speaking events pair up, and every agent item ends committed or interrupted.
    assert names.count("agent_started_speaking") == names.count("agent_stopped_speaking")
    ends = len(rec.named("agent_speech_committed")) + len(rec.named("agent_speech_interrupted"))
    assert ends == names.count("agent_stopped_speaking")
    states = [args[0] for args in rec.named("agent_state_changed")]
    assert states[0] == "initializing" and states[1] == "listening"
    # thinking between the end of user speech and the first audio, every turn.
    for i, state in enumerate(states):
        if state == "speaking":
            assert "thinking" in states[:i]
    metrics = [args[0] for args in rec.named("metrics_collected")]
    assert metrics and all(isinstance(m, MultimodalMetrics) for m in metrics)
    spoken = [m for m in metrics if m.ttft >= 0]
    assert spoken and all(m.prompt_tokens and m.completion_tokens for m in spoken)
    assert all("model_rx_to_play" in m.pipeline_ms for m in spoken)
    assert any("user_end_to_first_audio" in m.pipeline_ms for m in spoken)


def test_text_answer_recovered_to_audio(call: tuple[CallRecord, WeatherFnc]) -> None:
    rec, _ = call
    log = rec.log()
    texts = [r for r in log if r["type"] == "agent_text"]
    assert len(texts) == 1  # the first answer came as text ...
    t_text = texts[0]["t_ms"]
    replays = [r for r in log if r["type"] == "agent_item_deleted" or (
        r["type"] == "response_created" and r["t_ms"] > t_text)]
    assert replays, "no new response after the text answer"
    # ... and the agent then spoke before the weather turn.
    first_audio = [r["t_ms"] for r in log if r["type"] == "agent_started_speaking"]
    assert first_audio and t_text < first_audio[0] < 5000


def test_barge_in_on_local_vad(call: tuple[CallRecord, WeatherFnc]) -> None:
    rec, _ = call
    log = rec.log()
    (onset,) = [r for r in log if r["type"] == "local_speech_started" and 9800 < r["t_ms"]
                < 11500][:1]
    onset_ms = onset["sample"] / 24.0  # timeline sample at 24 kHz -> ms
    stops = [r for r in log if r["type"] == "agent_stopped_speaking" and r["interrupted"]]
    assert stops, "the answer was not interrupted"
    stop = stops[0]
    rate, _user, agent = read_stereo(rec.out_dir / "conversation.wav")
    # The agent channel falls silent within 60 ms of the barge-in onset.
    win = rate // 100
    i0 = int(onset_ms / 1000 * rate)
    before = agent[i0 - 20 * win: i0]
    after = agent[i0 + int(0.060 * rate): i0 + int(0.400 * rate)]
    assert np.sqrt(np.mean(before ** 2)) > 0.01, "the agent was not speaking at the onset"
    assert np.max(np.abs(after)) == 0.0, "agent audio 60 ms after the barge-in onset"
    # The truncation point is what was played, within 20 ms.
    truncs = [r for r in log if r["type"] == "agent_item_truncated"
              and r["item_id"] == stop["item_id"]]
    assert len(truncs) == 1
    assert abs(truncs[0]["audio_end_ms"] - stop["played_ms"]) <= 20
    (interrupted_text,) = [args[0] for args in rec.named("agent_speech_interrupted")][:1]
    released = [s for s in rec.log("agent_transcription") if s["item_id"] == stop["item_id"]]
    heard = released[-1]["released_words"] if released else 0
    assert interrupted_text.endswith("...")
    assert len(interrupted_text.removesuffix("...").split()) == heard
    print(f"barge-in: onset {onset_ms:.0f} ms, silent by <= 60 ms, played "
          f"{stop['played_ms']} ms of {stop['received_ms']} ms, heard {heard} words")


def test_agent_words_never_ahead_of_their_audio(call: tuple[CallRecord, WeatherFnc]) -> None:
    rec, _ = call
    log = rec.log()
    started = {r["item_id"]: r["t_ms"] for r in log if r["type"] == "agent_started_speaking"}
    deltas: dict[str, list[tuple[str, int]]] = {}
    for r in log:
        if r["type"] == "agent_transcript_delta" and r["delta"].strip():
            deltas.setdefault(r["item_id"], []).append((r["delta"], r["position"]))
    checked = 0
    for seg in rec.log("agent_transcription"):
        item = seg["item_id"]
        n = seg["released_words"]
        if item not in started or n == 0:
            continue
        positions = [pos for delta, pos in deltas[item] for _ in delta.split()]
        pos = positions[min(n, len(positions)) - 1]
        # The last word shown must have started playing by the time it was shown
        # (2 ms: playout plays frames up to 2 ms ahead of their slot).
        assert seg["t_ms"] + 2 >= started[item] + pos / 24.0, (seg, pos)
        checked += 1
    assert checked >= 10
