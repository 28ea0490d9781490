"""The dialogue engine over a real websocket: recognition, tool calls, synthesis, streaming.

Every received event is validated against the `openai` package's types
(`RealtimeClient`). Spoken requests are the bundled recordings
(`examples/audio/requests`), resampled to 24 kHz and streamed faster than
real time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soxr

from pipeline import cli as voxpipe_cli
from pipeline.model_server import server as server_cli
from pipeline.model_server.server import RunningServer, ServerConfig, start_server
from pipeline.model_server.speech.speech_runtime import shared_runtime
from pipeline.model_server.speech.tts import SpokenSentence
from tests.models.test_local_server_support import SR, RealtimeClient, connect_client

REQUESTS = Path(__file__).resolve().parents[2] / "examples" / "audio" / "requests"
WEATHER: dict[str, Any] = {
    "type": "function", "name": "get_weather",
    "description": "Get the current weather for a location.",
    "parameters": {"type": "object", "properties": {
        "location": {"type": "string", "description": "City name"}}, "required": ["location"]},
}
TIMER: dict[str, Any] = {
    "type": "function", "name": "set_timer", "description": "Start a countdown timer.",
    "parameters": {"type": "object", "properties": {"duration_seconds": {"type": "integer"}},
                   "required": ["duration_seconds"]},
}
TRANSCRIPTION_EVENTS = ("conversation.item.input_audio_transcription.delta",
                        "conversation.item.input_audio_transcription.completed")


def request_pcm(name: str, tail_s: float = 1.0) -> npt.NDArray[np.int16]:
    """A bundled spoken request at 24 kHz, with `tail_s` of silence for the VAD to end it."""
    with wave.open(str(REQUESTS / f"{name}.wav")) as w:
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        rate = w.getframerate()
    pcm = soxr.resample(raw, rate, SR).astype(np.int16)
    return np.concatenate([pcm, np.zeros(round(tail_s * SR), dtype=np.int16)])


def run(scenario: Any, **config: Any) -> None:
    async def main() -> None:
        server = await start_server(ServerConfig(engine="dialogue", **config))
        try:
            await asyncio.wait_for(scenario(server), 30)
        finally:
            await server.close()

    asyncio.run(main())


async def opened(ws: Any, beta: bool = False, **session: Any) -> RealtimeClient:
    client = RealtimeClient(ws, beta)
    assert (await client.recv())["type"] == "session.created"
    if session:
        await client.send(type="session.update", session=session)
        await client.until("session.updated")
    return client


async def say(client: RealtimeClient, text: str, **response: Any) -> list[dict[str, Any]]:
    """A typed user message, then a response to it: the response's events."""
    await client.send(type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    await client.send(type="response.create", response=response)
    return await client.until("response.done")


def of_type(events: list[dict[str, Any]], etype: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == etype]


def spoken(events: list[dict[str, Any]]) -> str:
    return str(of_type(events, "response.output_audio_transcript.done")[0]["transcript"])


@pytest.fixture
def spoken_sentences(monkeypatch: pytest.MonkeyPatch) -> list[SpokenSentence]:
    """Every sentence the (in-process) server synthesizes, with its word marks."""
    runtime = shared_runtime()
    said: list[SpokenSentence] = []
    speak = runtime.speak

    async def recording_speak(sentence: str, voice: str) -> SpokenSentence:
        spoken = await speak(sentence, voice)
        said.append(spoken)
        return spoken

    monkeypatch.setattr(runtime, "speak", recording_speak)
    return said


def assert_words_precede_their_audio(events: list[dict[str, Any]],
                                     sentences: list[SpokenSentence]) -> int:
    """Each transcript delta comes right before the audio delta holding its word's start."""
    starts: list[int] = []
    offset = 0
    for sentence in sentences:
        starts += [offset + w.start_sample for w in sentence.words]
        offset += sentence.audio.size
    stream = [e for e in events if e["type"] in (
        "response.output_audio.delta", "response.output_audio_transcript.delta")]
    position, word, checked = 0, 0, 0
    pending: list[int] = []
    for event in stream:
        if event["type"] == "response.output_audio_transcript.delta":
            pending.append(starts[word])
            word += 1
            continue
        end = position + len(base64.b64decode(event["delta"])) // 2
        for start in pending:
            assert position <= start < end, (start, position, end)
            checked += 1
        late = [s for s in starts[word:] if s < end]
        assert not late, f"words starting at {late} were sent after audio delta [{position}, {end})"
        pending = []
        position = end
    assert word == len(starts) and position == offset
    return checked


def test_spoken_weather_request_calls_the_tool_then_speaks_its_output(
        spoken_sentences: list[SpokenSentence]) -> None:
    pcm = request_pcm("weather_paris")

    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws, type="realtime", tools=[WEATHER], audio={
                "input": {"transcription": {"model": "whisper-1"}}})
            await client.append(pcm, realtime=4.0)
            events = await client.until("response.done")
            while not of_type(events, TRANSCRIPTION_EVENTS[1]):
                events.append(await client.recv())
            user_id = of_type(events, "input_audio_buffer.committed")[0]["item_id"]
            deltas = of_type(events, TRANSCRIPTION_EVENTS[0])
            completed = of_type(events, TRANSCRIPTION_EVENTS[1])[0]
            assert deltas and {d["item_id"] for d in deltas} == {user_id}
            assert completed["item_id"] == user_id and completed["content_index"] == 0
            transcript = completed["transcript"]
            assert "".join(d["delta"] for d in deltas) == transcript
            assert "weather" in transcript.lower() and "paris" in transcript.lower()

            response = [e["type"] for e in events[events.index(
                of_type(events, "response.created")[0]):] if e["type"] not in
                TRANSCRIPTION_EVENTS]
            n_args = response.count("response.function_call_arguments.delta")
            assert n_args >= 2
            assert response == [
                "response.created", "response.output_item.added", "conversation.item.added",
                *["response.function_call_arguments.delta"] * n_args,
                "response.function_call_arguments.done", "response.output_item.done",
                "conversation.item.done", "response.done"]
            added = of_type(events, "response.output_item.added")[0]["item"]
            assert (added["type"], added["name"], added["arguments"]) == (
                "function_call", "get_weather", "")
            done = of_type(events, "response.done")[0]["response"]
            assert done["status"] == "completed"
            call = done["output"][0]
            assert call["call_id"] == added["call_id"] and call["status"] == "completed"
            assert json.loads(call["arguments"]) == {"location": "Paris"}
            arg_deltas = of_type(events, "response.function_call_arguments.delta")
            assert "".join(d["delta"] for d in arg_deltas) == call["arguments"]
            assert of_type(events, "response.function_call_arguments.done")[0][
                "arguments"] == call["arguments"]
            assert done["usage"]["output_token_details"]["text_tokens"] > 0

            await client.send(type="conversation.item.retrieve", item_id=user_id)
            item = (await client.until("conversation.item.retrieved"))[-1]["item"]
            assert item["content"][0]["transcript"] == transcript

            await client.send(type="conversation.item.create", item={
                "type": "function_call_output", "call_id": call["call_id"],
                "output": json.dumps({"temperature": 21, "conditions": "sunny"})})
            await client.send(type="response.create")
            events = await client.until("response.done")
            assert spoken(events) == "The weather in Paris is sunny and 21 degrees."
            assert [s.text for s in spoken_sentences] == [spoken(events)]
            assert assert_words_precede_their_audio(events, spoken_sentences) == 9
            done = events[-1]["response"]
            assert done["status"] == "completed"
            assert done["output"][0]["content"][0]["transcript"] == spoken(events)
            usage = done["usage"]["output_token_details"]
            assert usage["audio_tokens"] > 20 and usage["text_tokens"] > 5

    run(scenario)


def test_multi_sentence_reply_keeps_words_with_their_audio_at_small_chunks(
        spoken_sentences: list[SpokenSentence]) -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url + "?chunk_ms=20") as ws:
            client = await opened(ws, type="realtime", instructions="You are Ava.",
                                  audio={"output": {"voice": "coral"}})
            events = await say(client, "Hello there")
            assert spoken(events) == "Hello! I'm Ava. How can I help you?"
            assert [s.text for s in spoken_sentences] == ["Hello!", "I'm Ava.",
                                                          "How can I help you?"]
            assert assert_words_precede_their_audio(events, spoken_sentences) == 8
            sizes = {len(base64.b64decode(e["delta"])) // 2
                     for e in of_type(events, "response.output_audio.delta")}
            assert max(sizes) == SR * 20 // 1000

    run(scenario)


def test_first_n_responses_in_text_then_audio() -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url + "?text_responses=1") as ws:
            client = await opened(ws)
            events = await say(client, "Hello")
            assert not of_type(events, "response.output_audio.delta")
            text = "".join(e["delta"] for e in of_type(events, "response.output_text.delta"))
            assert text == "Hello! I'm voxpipe. How can I help you?"
            done = events[-1]["response"]
            assert done["output_modalities"] == ["text"]
            assert done["output"][0]["content"][0] == {"type": "output_text", "text": text}
            assert done["usage"]["output_token_details"]["audio_tokens"] == 0
            events = await say(client, "What is your name?")
            assert of_type(events, "response.output_audio.delta")
            assert spoken(events) == "My name is voxpipe."
            events = await say(client, "Thanks", output_modalities=["text"])
            assert of_type(events, "response.output_text.done")[0]["text"] == "You're welcome!"

    run(scenario)


def test_tool_choice_none_required_and_named_over_beta() -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url, beta=True) as ws:
            client = await opened(ws, beta=True, tools=[WEATHER, TIMER], modalities=["text"])
            events = await say(client, "What's the weather in Paris?", tool_choice="none")
            assert of_type(events, "response.text.done")[0]["text"] == (
                "You said: What's the weather in Paris?")
            events = await say(client, "Good morning", tool_choice="required")
            call = events[-1]["response"]["output"][0]
            assert (call["type"], call["name"]) == ("function_call", "get_weather")
            events = await say(client, "What's the weather in Paris?",
                               tool_choice={"type": "function", "name": "set_timer"})
            assert events[-1]["response"]["output"][0]["name"] == "set_timer"
            events = await say(client, "Set a timer for five minutes.")
            call = events[-1]["response"]["output"][0]
            assert call["name"] == "set_timer"
            assert json.loads(call["arguments"]) == {"duration_seconds": 300}

    run(scenario)


def test_session_and_per_response_instructions() -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws, type="realtime", output_modalities=["text"],
                                  instructions="Your name is Ava.")

            def text(events: list[dict[str, Any]]) -> str:
                return str(of_type(events, "response.output_text.done")[0]["text"])

            assert text(await say(client, "What is your name?")) == "My name is Ava."
            assert text(await say(client, "What is your name?",
                                  instructions="Answer in uppercase.")) == "MY NAME IS AVA."
            assert text(await say(client, "Hi", instructions='Say "Goodbye for now."')) == (
                "Goodbye for now.")
            assert text(await say(client, "What is your name?")) == "My name is Ava."

    run(scenario)


def test_cancel_mid_sentence_ends_the_response_cancelled() -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url + "?pace=1") as ws:
            client = await opened(ws)
            await client.send(type="conversation.item.create", item={
                "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "Book a flight to Mars tomorrow"}]})
            await client.send(type="response.create")
            events = await client.until("response.output_audio.delta")
            events += [await client.recv() for _ in range(3)]
            await client.send(type="response.cancel")
            events += await client.until("response.done")
            done = events[-1]["response"]
            assert done["status"] == "cancelled"
            assert done["status_details"]["reason"] == "client_cancelled"
            assert done["output"][0]["status"] == "incomplete"
            heard = sum(len(base64.b64decode(e["delta"])) // 2
                        for e in of_type(events, "response.output_audio.delta"))
            assert 0 < heard < SR  # the full sentence is over 2 s
            said = "".join(e["delta"] for e in of_type(
                events, "response.output_audio_transcript.delta"))
            assert said and spoken(events) == said
            assert "You said: Book a flight to Mars tomorrow.".startswith(said)
            tail = [e["type"] for e in events[-6:]]
            assert tail == ["response.output_audio.done", "response.output_audio_transcript.done",
                            "response.content_part.done", "response.output_item.done",
                            "conversation.item.done", "response.done"]

    run(scenario)


def test_manual_commit_is_transcribed_and_answered() -> None:
    pcm = request_pcm("your_name", tail_s=0.2)

    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws, type="realtime", audio={"input": {
                "turn_detection": None, "transcription": {"model": "whisper-1"}}})
            await client.append(pcm)
            await client.send(type="input_audio_buffer.commit")
            await client.send(type="response.create")
            events = await client.until("response.done")
            while not of_type(events, TRANSCRIPTION_EVENTS[1]):
                events.append(await client.recv())
            transcript = of_type(events, TRANSCRIPTION_EVENTS[1])[0]["transcript"]
            assert "your name" in transcript.lower()
            assert spoken(events) == "My name is voxpipe."

    run(scenario)


def test_engine_is_chosen_per_server_and_per_session() -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:  # the server's default: echo
            events = await say(await opened(ws), "What is your name?")
            assert spoken(events) == "(echo) What is your name?"
        async with connect_client(server.url + "?engine=dialogue") as ws:
            events = await say(await opened(ws), "What is your name?")
            assert spoken(events) == "My name is voxpipe."

    async def main() -> None:
        server = await start_server(ServerConfig(engine="echo"))
        try:
            await asyncio.wait_for(scenario(server), 30)
        finally:
            await server.close()

    asyncio.run(main())
    assert server_cli.main(["--engine", "dialogue", "--host", "0.0.0.0"]) == 2  # parsed
    with pytest.raises(SystemExit):
        server_cli.main(["--engine", "telepathy"])
    run_args = voxpipe_cli._parser().parse_args(
        ["run", "--input", "in.wav", "--out", "out", "--model-engine", "echo"])
    assert run_args.model_engine == "echo"


def test_cancel_while_the_reply_waits_for_the_transcript() -> None:
    pcm = request_pcm("weather_tokyo", tail_s=0.2)

    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws, type="realtime", audio={"input": {"turn_detection": None}})
            await client.append(pcm)
            # All three in one go: the cancel arrives while the decode is still running.
            await client.send(type="input_audio_buffer.commit")
            await client.send(type="response.create")
            await client.send(type="response.cancel")
            events = await client.until("response.done")
            done = events[-1]["response"]
            assert (done["status"], done["output"]) == ("cancelled", [])
            assert not of_type(events, "response.output_item.added")
            events = await say(client, "Thanks")  # the session goes on
            assert spoken(events) == "You're welcome!"

    run(scenario)
