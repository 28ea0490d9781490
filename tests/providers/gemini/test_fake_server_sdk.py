"""The fake Gemini Live server is faithful: the official ``google-genai`` SDK holds a
spoken turn, a function call and a resumed session through it, over TLS."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from tests.multimodal.agent_harness import _speech
from tests.providers.gemini.fake_server import FakeGemini
from tests.providers.gemini.script import INPUT_RATE, Reply, dominant_hz, rms

genai = pytest.importorskip("google.genai")
types = pytest.importorskip("google.genai.types")

MODEL = "gemini-2.0-flash-exp"


def _client(fake: FakeGemini) -> Any:
    return genai.Client(api_key=fake.api_key, http_options=types.HttpOptions(
        base_url=fake.base_url, api_version="v1beta",
        async_client_args={"ssl": fake.client_ssl()}))


async def _speak(session: Any, pcm: np.ndarray) -> None:
    """The user's audio in 100 ms chunks at real time, then a second of silence."""
    audio = np.concatenate([pcm, np.zeros(INPUT_RATE, dtype=np.int16)])
    step = INPUT_RATE // 10
    for i in range(0, audio.size, step):
        await session.send_realtime_input(audio=types.Blob(
            data=audio[i:i + step].tobytes(), mime_type=f"audio/pcm;rate={INPUT_RATE}"))
        await asyncio.sleep(0.1)


class Turn:
    def __init__(self) -> None:
        self.audio = bytearray()
        self.heard = ""
        self.said = ""
        self.tool_calls: list[Any] = []
        self.usage: Any = None
        self.complete = False


async def _receive_turn(session: Any, turn: Turn) -> None:
    async for msg in session.receive():
        sc = msg.server_content
        if msg.usage_metadata is not None:
            turn.usage = msg.usage_metadata
        if msg.tool_call is not None:
            turn.tool_calls.extend(msg.tool_call.function_calls)
            return
        if sc is None:
            continue
        if sc.model_turn is not None:
            for part in sc.model_turn.parts or []:
                if part.inline_data is not None:
                    turn.audio += part.inline_data.data
        if sc.input_transcription is not None:
            turn.heard += sc.input_transcription.text or ""
        if sc.output_transcription is not None:
            turn.said += sc.output_transcription.text or ""
        if sc.turn_complete:
            turn.complete = True
            return


def test_the_sdk_holds_a_spoken_turn_a_tool_call_and_a_resumed_session() -> None:
    script = [
        Reply(heard="what is the weather in Paris", say="It is {result} in Paris.",
              tone_hz=440.0, seconds=0.8, tool=("get_weather", {"location": "Paris"}),
              go_away_after=True),
        Reply(heard="", say="We spoke {turns} times; I said {last}", tone_hz=660.0,
              seconds=0.6),
    ]
    with FakeGemini(script) as fake:
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.AUDIO],
            speech_config=types.SpeechConfig(voice_config=types.VoiceConfig(
                prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Puck"))),
            system_instruction="You are a helpful assistant.",
            input_audio_transcription=types.AudioTranscriptionConfig(),
            output_audio_transcription=types.AudioTranscriptionConfig(),
            session_resumption=types.SessionResumptionConfig(),
            tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
                name="get_weather", description="The weather somewhere",
                parameters=types.Schema(type=types.Type.OBJECT, properties={
                    "location": types.Schema(type=types.Type.STRING)}))])],
        )

        async def first_session() -> tuple[Turn, str | None, str | None]:
            client = _client(fake)
            handle: str | None = None
            time_left: str | None = None
            async with client.aio.live.connect(model=MODEL, config=config) as session:
                turn = Turn()
                speaker = asyncio.create_task(_speak(session, _speech("weather_paris")))
                await _receive_turn(session, turn)
                call = turn.tool_calls[0]
                await session.send_tool_response(function_responses=[types.FunctionResponse(
                    id=call.id, name=call.name, response={"result": "sunny"})])
                await _receive_turn(session, turn)
                await speaker
                async for msg in session.receive():
                    if msg.session_resumption_update is not None:
                        handle = msg.session_resumption_update.new_handle
                    if msg.go_away is not None:
                        time_left = msg.go_away.time_left
                        break
            return turn, handle, time_left

        turn, handle, time_left = asyncio.run(first_session())
        assert turn.complete and turn.heard.split() == script[0].heard.split()
        assert [(c.name, c.args) for c in turn.tool_calls] == [("get_weather",
                                                                {"location": "Paris"})]
        assert turn.said.split() == ["It", "is", "sunny", "in", "Paris."]
        audio = np.frombuffer(bytes(turn.audio), dtype="<i2")
        assert audio.size == int(0.8 * 24000)
        assert abs(dominant_hz(audio) - 440.0) < 5 and rms(audio) > 1000
        assert turn.usage is not None and turn.usage.total_token_count > 0
        assert handle is not None and time_left is not None

        async def resumed() -> Turn:
            client = _client(fake)
            cfg = config.model_copy(update={
                "session_resumption": types.SessionResumptionConfig(handle=handle)})
            async with client.aio.live.connect(model=MODEL, config=cfg) as session:
                await session.send_client_content(turns=types.Content(
                    role="user", parts=[types.Part(text="And before?")]), turn_complete=True)
                turn = Turn()
                await _receive_turn(session, turn)
            return turn

        again = asyncio.run(resumed())
        assert again.complete
        assert again.said == "We spoke 1 times; I said It is sunny in Paris. "
        assert abs(dominant_hz(np.frombuffer(bytes(again.audio), dtype="<i2")) - 660) < 5

    # What the SDK sent, as the fake read it: the Live API's messages, nothing else.
    assert fake.refused == []
    setup = fake.setups[0]
    assert setup["model"] == f"models/{MODEL}"
    assert setup["generationConfig"]["responseModalities"] == ["AUDIO"]
    assert setup["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert "inputAudioTranscription" in setup and "outputAudioTranscription" in setup
    assert fake.resumed_from == [None, handle]
    audio_in = [m["realtimeInput"]["audio"] for n, m in fake.received
                if n == 1 and "audio" in m.get("realtimeInput", {})]
    assert audio_in and {a["mimeType"] for a in audio_in} == {"audio/pcm;rate=16000"}
    assert set(fake.kinds()) == {"setup", "realtimeInput", "toolResponse", "clientContent"}
