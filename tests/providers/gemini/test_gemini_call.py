"""voxpipe's Gemini Live provider holds a scripted call through the real processes,
against the fake Live server (itself shown faithful by the google-genai SDK): turns, a
tool call, a ``goAway`` answered by a resumed session that keeps the context, a
barge-in the server cuts (no truncation sent), transcripts in step, and the agent's
events as the seed emits them on the Gemini path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest

from pipeline.agents import llm
from pipeline.agents.job import JobContext
from pipeline.agents.multimodal import MultimodalAgent
from pipeline.plugins import google
from tests.multimodal.agent_harness import CallRecord, run_call, script_wav
from tests.pipeline.audio_checks import read_stereo
from tests.providers.gemini.fake_server import FakeGemini
from tests.providers.gemini.proto_json import pcm_bytes
from tests.providers.gemini.script import Reply, dominant_hz, rms

SCRIPT = [
    Reply(heard="hello can you hear me", say="Hello! I hear you well.", tone_hz=440.0),
    Reply(heard="what is the weather in Paris", say="It is {result} in Paris.",
          tone_hz=550.0, tool=("get_weather", {"location": "Paris"}), go_away_after=True),
    Reply(heard="what is your name", say="We spoke {turns} times before; my name is a "
          "long story that I will tell you slowly, word after word, until you stop me.",
          tone_hz=660.0, seconds=4.0),
    Reply(heard="thank you that is all", say="You are welcome.", tone_hz=770.0,
          seconds=0.8),
]
# "thanks" starts 1.9 s after "your name" ends (0.5 s of silence ends that turn): the
# fake is still speaking its 4 s answer, and cuts it.
TURNS = [(0.5, "hello"), (5.0, "weather_paris"), (10.0, "your_name"), (13.0, "thanks")]


class Weather(llm.FunctionContext):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    @llm.ai_callable()
    async def get_weather(
        self, location: Annotated[str, llm.TypeInfo(description="The city")]
    ) -> str:
        """Called when the user asks about the weather."""
        self.calls.append(location)
        return "sunny"


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[CallRecord, FakeGemini, Weather]]:
    tmp = tmp_path_factory.mktemp("gemini-call")
    script_wav(tmp / "in.wav", TURNS, total_s=18.5)
    fnc = Weather()
    with FakeGemini(SCRIPT) as fake:
        saved = os.environ.get("SSL_CERT_FILE")
        # The stage processes inherit it: the model stage trusts the test's CA.
        os.environ["SSL_CERT_FILE"] = str(fake.write_ca(tmp / "ca.pem"))
        try:
            async def make(ctx: JobContext) -> MultimodalAgent:
                model = google.beta.realtime.RealtimeModel(
                    instructions="You are a test.", api_key=fake.api_key,
                    base_url=fake.ws_base, api_version="v1beta", temperature=0.8)
                return MultimodalAgent(model=model, fnc_ctx=fnc)

            record = run_call(tmp / "in.wav", tmp / "out", make, timeout_s=90.0)
        finally:
            if saved is None:
                del os.environ["SSL_CERT_FILE"]
            else:
                os.environ["SSL_CERT_FILE"] = saved
        yield record, fake, fnc


def test_the_agent_events_follow_the_seed_gemini_path(
        call: tuple[CallRecord, FakeGemini, Weather]) -> None:
    rec, _fake, fnc = call
    assert rec.summary is not None and rec.summary.error is None
    names = rec.names()
    # Gemini has no speech events: the seed emits no user_started/stopped_speaking.
    assert "user_started_speaking" not in names and "user_stopped_speaking" not in names
    users = [a[0] for a in rec.named("user_speech_committed")]
    assert [u.split() for u in users] == [r.heard.split() for r in SCRIPT]
    # The agent's speech is committed with the model's whole transcript, never cut to
    # what played (the model keeps the whole reply): the cut one is the words it said.
    agents = [a[0].split() for a in rec.named("agent_speech_committed")]
    assert len(agents) == 4 and "agent_speech_interrupted" not in names
    assert agents[0] == SCRIPT[0].say.split()
    assert agents[1] == ["It", "is", "sunny", "in", "Paris."]
    planned = SCRIPT[2].say.format(turns=2).split()
    assert 0 < len(agents[2]) < len(planned) and agents[2] == planned[: len(agents[2])]
    assert agents[3] == SCRIPT[3].say.split()
    assert fnc.calls == ["Paris"]
    assert names.count("function_calls_collected") == names.count("function_calls_finished") == 1
    assert names.count("agent_started_speaking") == names.count("agent_stopped_speaking") == 4
    states = [a[0] for a in rec.named("agent_state_changed")]
    assert states[:2] == ["initializing", "listening"] and states[-1] == "listening"
    assert states.count("speaking") == 4


def test_transcripts_in_step_with_the_audio(
        call: tuple[CallRecord, FakeGemini, Weather]) -> None:
    rec, _fake, _fnc = call
    log = rec.log()
    # Every released agent word came with audio already played (positions never ahead).
    finals = [r for r in log if r["type"] == "agent_transcription" and r["final"]]
    assert [f["text"].split() for f in finals][:2] == [SCRIPT[0].say.split(),
                                                       ["It", "is", "sunny", "in", "Paris."]]
    user_finals = [r["text"].split() for r in log
                   if r["type"] == "user_transcription" and r["final"]]
    assert user_finals == [r.heard.split() for r in SCRIPT]


def test_each_reply_is_heard_and_the_barge_in_cuts_it(
        call: tuple[CallRecord, FakeGemini, Weather]) -> None:
    rec, fake, _fnc = call
    rate, _user, agent = read_stereo(rec.out_dir / "conversation.wav")
    log = rec.log()
    spans = [(s["t_ms"], e["t_ms"]) for s, e in zip(
        [r for r in log if r["type"] == "agent_started_speaking"],
        [r for r in log if r["type"] == "agent_stopped_speaking"], strict=True)]
    heard = []
    for (start, end), reply in zip(spans, SCRIPT, strict=True):
        seg = agent[int(start * rate / 1000): int(end * rate / 1000)]
        assert rms(seg) > 0.05  # the tone is at 0.3 of full scale
        assert abs(dominant_hz(seg, rate) - reply.tone_hz) < 10
        heard.append(seg.size / rate)
    # The 4 s answer was cut by the user's "thanks": the server said "interrupted".
    stops = [r for r in log if r["type"] == "agent_stopped_speaking"]
    assert [s["interrupted"] for s in stops] == [False, False, True, False]
    assert heard[2] < SCRIPT[2].seconds - 0.5
    # After the cut, the agent channel stays silent until the next answer starts.
    gap = agent[int((spans[2][1] + 100) * rate / 1000): int(spans[3][0] * rate / 1000)]
    assert gap.size and float(np.max(np.abs(gap))) < 0.002
    # No truncation, cancel or any other message beyond the Live API's was sent.
    assert set(fake.kinds()) <= {"setup", "realtimeInput", "clientContent", "toolResponse"}
    assert fake.refused == []


def test_go_away_resumes_the_session_with_its_context(
        call: tuple[CallRecord, FakeGemini, Weather]) -> None:
    rec, fake, _fnc = call
    # One connection per goAway: the second set up with the handle issued after turn 2,
    # so the server went on from that conversation (it counts the turns before).
    assert fake.connections == 2
    assert fake.resumed_from == [None, "handle-1-2"]
    assert fake.setups[1]["model"] == fake.setups[0]["model"]
    # Seamless: the stage saw one connection, the agent replayed nothing, the user's
    # audio went on on the new connection and the answers there kept the context.
    assert len(rec.log("model_connected")) == 1
    assert fake.kinds(2).count("clientContent") == 0
    assert fake.kinds(2).count("realtimeInput") > 20
    said = [a[0] for a in rec.named("agent_speech_committed")]
    assert said[2].startswith("We spoke 2 times before")
    responses = [r for n, m in fake.received if "toolResponse" in m
                 for r in m["toolResponse"]["functionResponses"]]
    assert responses == [{"id": "call-1", "name": "get_weather",
                          "response": {"result": "sunny"}}]


def test_the_setup_carries_the_plugin_parameters(
        call: tuple[CallRecord, FakeGemini, Weather]) -> None:
    _rec, fake, _fnc = call
    setup = fake.setups[0]
    assert setup["model"] == "models/gemini-2.0-flash-exp"
    gen = setup["generationConfig"]
    assert gen["responseModalities"] == ["AUDIO"] and gen["temperature"] == 0.8
    assert gen["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Puck"
    assert setup["systemInstruction"] == {"parts": [{"text": "You are a test."}]}
    (decl,) = setup["tools"][0]["functionDeclarations"]
    assert decl["name"] == "get_weather" and "location" in decl["parameters"]["properties"]
    assert "inputAudioTranscription" in setup and "outputAudioTranscription" in setup
    audio = [m["realtimeInput"]["audio"]["mimeType"] for _n, m in fake.received
             if "audio" in m.get("realtimeInput", {})]
    assert set(audio) == {"audio/pcm;rate=16000"}


def test_the_ca_file_was_needed(tmp_path: Path) -> None:
    """Without the test's CA the model stage cannot trust the fake (TLS is real)."""
    with FakeGemini(SCRIPT) as fake:
        import asyncio

        from ipc.schema import ModelSpec
        from pipeline.providers.base import ProviderConnectError
        from pipeline.providers.gemini import create_provider, gemini_url

        async def connect() -> None:
            await create_provider().connect(
                ModelSpec(url=gemini_url(fake.ws_base), api_key=fake.api_key,
                          name="gemini-2.0-flash-exp"), input_rate=16000, output_rate=24000)

        with pytest.raises(ProviderConnectError, match=r"cannot reach Gemini|handshake"):
            asyncio.run(connect())


def test_the_user_audio_reaches_the_server_whole_at_16_khz(
        call: tuple[CallRecord, FakeGemini, Weather]) -> None:
    _rec, fake, _fnc = call
    samples = {1: 0, 2: 0}
    for n, m in fake.received:
        audio = m.get("realtimeInput", {}).get("audio")
        if audio is not None:
            assert audio["mimeType"] == "audio/pcm;rate=16000"
            samples[n] += len(pcm_bytes(audio["data"])) // 2
    # dsp resampled the call to the provider's 16 kHz; across the resumption nothing
    # was lost (the audio since the last handle may be sent twice, never less).
    call_s = 18.5 + 1.5  # the input and capture's tail of silence
    total_s = (samples[1] + samples[2]) / 16000
    assert call_s - 1.0 <= total_s <= call_s + 1.0, samples
    assert samples[2] / 16000 > 8.0
