"""Gemini Live <-> the neutral vocabulary, without a server: ids and turn edges made
from the server's messages, commands put in its words, the setup from the settings."""

from __future__ import annotations

import base64
import json

import pytest

from ipc.schema import (
    CancelResponse,
    ClearInput,
    CommitInput,
    CreateItem,
    CreateResponse,
    DeleteItem,
    FunctionCallItem,
    FunctionOutputItem,
    MessageItem,
    Sampling,
    SessionSettings,
    TextPart,
    ToolResult,
    ToolSpec,
    Truncate,
)
from pipeline.providers import base as pe
from pipeline.providers.gemini.commands import CommandTranslator
from pipeline.providers.gemini.setup import setup_message
from pipeline.providers.gemini.translate import Translator
from pipeline.providers.gemini.wire import duration_s, parse_server_message


def _msg(**body: object) -> bytes:
    return json.dumps(body).encode()


def _audio(pcm: bytes) -> bytes:
    return _msg(serverContent={"modelTurn": {"parts": [{"inlineData": {
        "mimeType": "audio/pcm;rate=24000", "data": base64.b64encode(pcm).decode()}}]}})


def _events(t: Translator, *frames: bytes) -> list[pe.ProviderEvent]:
    return [e for f in frames for e in t.events(parse_server_message(f))]


def test_a_spoken_turn_becomes_one_response_and_one_audio_item() -> None:
    t = Translator()
    ev = _events(t,
                 _msg(serverContent={"inputTranscription": {"text": "hello "}}),
                 _msg(serverContent={"inputTranscription": {"text": "there"}}),
                 _audio(b"\x01\x00" * 10),
                 _msg(serverContent={"outputTranscription": {"text": "Hi!"}}),
                 _audio(b"\x02\x00" * 5),
                 _msg(usageMetadata={"promptTokenCount": 7, "responseTokenCount": 3}),
                 _msg(serverContent={"generationComplete": True}),
                 _msg(serverContent={"turnComplete": True}))
    kinds = [type(e).__name__ for e in ev]
    assert kinds == ["InputCommitted", "InputTranscriptDelta", "InputTranscriptDelta",
                     "InputTranscriptCompleted", "ResponseCreated", "ContentPartAdded",
                     "AudioDelta", "TranscriptDelta", "AudioDelta", "TranscriptDone",
                     "AudioDone", "ResponseDone"]
    user = ev[0].item_id  # type: ignore[union-attr]
    assert ev[3] == pe.InputTranscriptCompleted(user, "hello there")
    created, part = ev[4], ev[5]
    assert isinstance(created, pe.ResponseCreated) and isinstance(part, pe.ContentPartAdded)
    assert part.part_type == "audio" and part.item_id != user
    assert ev[9] == pe.TranscriptDone(part.item_id, 0, "Hi!")
    assert ev[-1] == pe.ResponseDone(created.response_id, "completed", None, 7, 3)
    assert not t.busy


def test_interrupted_cuts_the_reply_and_tool_calls_end_it() -> None:
    t = Translator()
    ev = _events(t, _audio(b"\x00\x01" * 4), _msg(serverContent={"interrupted": True}))
    assert [type(e).__name__ for e in ev] == [
        "ResponseCreated", "ContentPartAdded", "AudioDelta", "Interrupted", "TranscriptDone",
        "AudioDone", "ResponseDone"]
    created = ev[0]
    assert isinstance(created, pe.ResponseCreated)
    assert ev[3] == pe.Interrupted(created.response_id)
    done = ev[-1]
    assert isinstance(done, pe.ResponseDone) and done.status == "cancelled"
    ev = _events(t, _msg(toolCall={"functionCalls": [
        {"id": "c1", "name": "get_weather", "args": {"location": "Paris"}}]}))
    assert [type(e).__name__ for e in ev] == ["ResponseCreated", "FunctionCall", "ResponseDone"]
    call = ev[1]
    assert isinstance(call, pe.FunctionCall) and call.call_id == "c1"
    assert json.loads(call.arguments) == {"location": "Paris"}
    assert t.call_names == {"c1": "get_weather"}
    # A turnComplete after the tool call has no reply left to end.
    assert _events(t, _msg(serverContent={"turnComplete": True})) == []
    assert _events(t, _msg(toolCallCancellation={"ids": ["c1"]})) == []
    assert t.cancelled_calls == 1


def test_text_modality_answers_in_text() -> None:
    t = Translator(modality="text")
    parts = [{"text": "Hi "}, {"text": "you"}]
    ev = _events(t, _msg(serverContent={"modelTurn": {"parts": parts}}),
                 _msg(serverContent={"turnComplete": True}))
    assert isinstance(ev[1], pe.ContentPartAdded) and ev[1].part_type == "text"
    assert isinstance(ev[2], pe.TextDone) and ev[2].text == "Hi you"


def test_commands_in_gemini_words() -> None:
    names: dict[str, str] = {}
    c = CommandTranslator(names)
    (item,) = c.messages(CreateItem(item=MessageItem(role="assistant",
                                                     content=(TextPart("Hello"),))))
    assert item == {"clientContent": {"turnComplete": False, "turns": [
        {"role": "model", "parts": [{"text": "Hello"}]}]}}
    c.messages(CreateItem(item=FunctionCallItem(call_id="c1", name="f", arguments='{"a": 1}')))
    (out,) = c.messages(CreateItem(item=FunctionOutputItem(call_id="c1", output="ok")))
    assert out["clientContent"]["turns"][0]["parts"][0]["functionResponse"] == {
        "id": "c1", "name": "f", "response": {"result": "ok"}}
    assert c.messages(CreateResponse()) == [{"clientContent": {"turnComplete": True}}]
    (tool,) = c.messages(ToolResult(call_id="c1", output="sunny"))
    assert tool == {"toolResponse": {"functionResponses": [
        {"id": "c1", "name": "f", "response": {"result": "sunny"}}]}}
    # The model answers a tool result by itself: the agent's next response is absorbed.
    assert c.messages(CreateResponse()) == []
    assert c.messages(CreateResponse()) == [{"clientContent": {"turnComplete": True}}]
    for nothing in (DeleteItem(item_id="x"), CancelResponse(), ClearInput(), CommitInput()):
        assert c.messages(nothing) == []
    with pytest.raises(ValueError, match="truncate"):
        c.messages(Truncate(item_id="x", content_index=0, audio_end_ms=10))


def test_manual_turns_mark_activity() -> None:
    c = CommandTranslator({}, manual_turns=True)
    first = c.audio(b"\x00\x00", 16000)
    assert first[0] == {"realtimeInput": {"activityStart": {}}}
    assert first[1]["realtimeInput"]["audio"]["mimeType"] == "audio/pcm;rate=16000"
    assert len(c.audio(b"\x00\x00", 16000)) == 1
    assert c.messages(CommitInput()) == [{"realtimeInput": {"activityEnd": {}}}]
    # The end of the user's turn makes the model answer: generate_reply's response is
    # absorbed, a later one is not.
    assert c.messages(CreateResponse()) == []
    assert c.messages(CommitInput()) == []
    assert c.messages(CreateResponse()) == [{"clientContent": {"turnComplete": True}}]


def test_setup_from_settings() -> None:
    settings = SessionSettings(
        instructions="Be brief.", voice="Kore", temperature=0.5, max_output_tokens=100,
        turn_detection=None, input_transcription_model=None, output_transcription=False,
        tools=(ToolSpec(name="f", description="d", parameters={
            "type": "object", "properties": {"x": {"type": "string"}}}),),
        sampling=Sampling(top_p=0.9, top_k=40))
    setup = setup_message(settings, model="gemini-x", handle="h1")["setup"]
    assert setup["model"] == "models/gemini-x"
    assert setup["generationConfig"] == {
        "responseModalities": ["AUDIO"], "temperature": 0.5, "maxOutputTokens": 100,
        "topP": 0.9, "topK": 40,
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}}}
    assert setup["realtimeInputConfig"] == {"automaticActivityDetection": {"disabled": True}}
    assert setup["sessionResumption"] == {"handle": "h1"}
    assert setup["tools"][0]["functionDeclarations"][0]["name"] == "f"
    assert "inputAudioTranscription" not in setup and "outputAudioTranscription" not in setup
    with pytest.raises(ValueError, match="one candidate"):
        setup_message(SessionSettings(sampling=Sampling(candidate_count=2)), model="m")
    with pytest.raises(ValueError, match="one modality"):
        setup_message(SessionSettings(modalities=("audio", "text")), model="m")


def test_durations_and_bad_frames() -> None:
    assert duration_s("12.5s") == 12.5 and duration_s("3s") == 3.0
    assert duration_s("soon") is None and duration_s(None) is None
    with pytest.raises(Exception, match="Expected"):
        parse_server_message(b'{"serverContent": {"turnComplete": "yes"}}')
