"""Server-event parsing: realistic GA and beta frames (dumped from the openai package's
models) round-trip their fields; every malformed frame is dropped and counted."""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
import openai.types.realtime as ga
import pydantic
import pytest
from openai.types.beta import realtime as beta
from openai.types.realtime import realtime_response_status as ga_status
from openai.types.realtime import realtime_server_event as ga_union
from openai.types.realtime import (
    response_content_part_added_event as ga_part,
)

from pipeline.providers.openai import server_events as se
from pipeline.providers.openai.server_events import parse_server_event

PCM = bytes(range(256)) * 4  # 1024 bytes, even
B64 = base64.b64encode(PCM).decode()
PART = {"response_id": "resp_1", "item_id": "item_2", "output_index": 0, "content_index": 0}


def frames(model: pydantic.BaseModel) -> list[bytes]:
    """The frame as the server would send it, with nulls kept and with nulls dropped."""
    return [model.model_dump_json().encode(), model.model_dump_json(exclude_none=True).encode()]


def parse_all(model: pydantic.BaseModel) -> se.ServerEvent:
    results = []
    for raw in frames(model):
        rejected: dict[str, int] = {}
        results.append(parse_server_event(raw, rejected))
        results.append(parse_server_event(raw.decode(), rejected))
        assert rejected == {}
    assert all(r == results[0] for r in results), results
    assert results[0] is not None
    return results[0]


ASSISTANT = ga.RealtimeConversationItemAssistantMessage(
    id="item_2", type="message", role="assistant", status="completed",
    content=[{"type": "output_audio", "transcript": "Hello there."}],
)  # fmt: skip
CALL = ga.RealtimeConversationItemFunctionCall(
    id="item_3", type="function_call", call_id="call_1", name="get_weather",
    arguments='{"city": "Oslo"}', status="completed",
)  # fmt: skip


def _ga_response(status: str) -> ga.RealtimeResponse:
    return ga.RealtimeResponse(
        id="resp_1", object="realtime.response", status=status,  # type: ignore[arg-type]
        status_details=ga_status.RealtimeResponseStatus(type="cancelled", reason="turn_detected"),
        output=[ASSISTANT, CALL], conversation_id="conv_1", output_modalities=["audio"],
        usage=ga.RealtimeResponseUsage(
            input_tokens=120, output_tokens=80, total_tokens=200,
            input_token_details={"text_tokens": 100, "audio_tokens": 20, "cached_tokens": 64},
            output_token_details={"text_tokens": 30, "audio_tokens": 50},
        ),
    )  # fmt: skip


GA_CASES: list[tuple[pydantic.BaseModel, se.ServerEvent]] = [
    (
        ga.SessionCreatedEvent(
            type="session.created", event_id="e1",
            session={"type": "realtime", "model": "gpt-realtime", "id": "sess_1"},
        ),
        se.SessionCreated(session_id="sess_1", model="gpt-realtime"),
    ),
    (
        ga.InputAudioBufferSpeechStartedEvent(
            type="input_audio_buffer.speech_started", event_id="e", item_id="item_1",
            audio_start_ms=1200,
        ),
        se.SpeechStarted(item_id="item_1", audio_start_ms=1200),
    ),
    (
        ga.InputAudioBufferSpeechStoppedEvent(
            type="input_audio_buffer.speech_stopped", event_id="e", item_id="item_1",
            audio_end_ms=2400,
        ),
        se.SpeechStopped(item_id="item_1", audio_end_ms=2400),
    ),
    (
        ga.InputAudioBufferCommittedEvent(
            type="input_audio_buffer.committed", event_id="e", item_id="item_1",
            previous_item_id=None,
        ),
        se.InputCommitted(item_id="item_1", previous_item_id=None),
    ),
    (ga.InputAudioBufferClearedEvent(type="input_audio_buffer.cleared", event_id="e"),
     se.InputCleared()),
    (
        ga.ConversationItemAdded(
            type="conversation.item.added", event_id="e", previous_item_id="item_0",
            item=ga.RealtimeConversationItemUserMessage(
                id="item_1", type="message", role="user", status="completed",
                content=[{"type": "input_audio", "transcript": None}],
            ),
        ),
        se.ItemAdded(
            item_id="item_1", previous_item_id="item_0", item_type="message", role="user",
            status="completed", content_types=("input_audio",), text=None, call_id=None,
            name=None, arguments=None, output=None,
        ),
    ),
    (
        ga.ConversationItemDeletedEvent(
            type="conversation.item.deleted", event_id="e", item_id="item_2"
        ),
        se.ItemDeleted(item_id="item_2"),
    ),
    (
        ga.ConversationItemTruncatedEvent(
            type="conversation.item.truncated", event_id="e", item_id="item_2",
            content_index=0, audio_end_ms=1500,
        ),
        se.ItemTruncated(item_id="item_2", content_index=0, audio_end_ms=1500),
    ),
    (
        ga_union.ConversationItemRetrieved(
            type="conversation.item.retrieved", event_id="e", item=ASSISTANT
        ),
        se.ItemRetrieved(
            item_id="item_2", item_type="message", role="assistant", status="completed",
            content_types=("output_audio",), text="Hello there.", call_id=None, name=None,
            arguments=None, output=None,
        ),
    ),
    (
        ga.ConversationItemInputAudioTranscriptionDeltaEvent(
            type="conversation.item.input_audio_transcription.delta", event_id="e",
            item_id="item_1", content_index=0, delta="What's the",
        ),
        se.InputTranscriptDelta(item_id="item_1", content_index=0, delta="What's the"),
    ),
    (
        ga.ConversationItemInputAudioTranscriptionCompletedEvent(
            type="conversation.item.input_audio_transcription.completed", event_id="e",
            item_id="item_1", content_index=0, transcript="What's the weather?",
            usage={"type": "duration", "seconds": 1.5},
        ),
        se.InputTranscriptCompleted(
            item_id="item_1", content_index=0, transcript="What's the weather?"
        ),
    ),
    (
        ga.ConversationItemInputAudioTranscriptionFailedEvent(
            type="conversation.item.input_audio_transcription.failed", event_id="e",
            item_id="item_1", content_index=0,
            error={"type": "transcription_error", "code": "audio_unintelligible",
                   "message": "Audio could not be transcribed."},
        ),
        se.InputTranscriptFailed(
            item_id="item_1", content_index=0, message="Audio could not be transcribed."
        ),
    ),
    (
        ga.ResponseCreatedEvent(
            type="response.created", event_id="e",
            response=ga.RealtimeResponse(id="resp_1", status="in_progress", output=[]),
        ),
        se.ResponseCreated(response_id="resp_1"),
    ),
    (
        ga.ResponseDoneEvent(
            type="response.done", event_id="e", response=_ga_response("cancelled")
        ),
        se.ResponseDone(
            response_id="resp_1", status="cancelled", status_reason="turn_detected",
            error_type=None, error_code=None, input_tokens=120, input_text_tokens=100,
            input_audio_tokens=20, input_cached_tokens=64, output_tokens=80,
            output_text_tokens=30, output_audio_tokens=50, output_item_ids=("item_2", "item_3"),
        ),
    ),
    (
        ga.ResponseOutputItemAddedEvent(
            type="response.output_item.added", event_id="e", response_id="resp_1",
            output_index=1, item=CALL,
        ),
        se.OutputItemAdded(
            response_id="resp_1", output_index=1, item_id="item_3", item_type="function_call",
            role=None, status="completed", content_types=(), text=None, call_id="call_1",
            name="get_weather", arguments='{"city": "Oslo"}', output=None,
        ),
    ),
    (
        ga.ResponseOutputItemDoneEvent(
            type="response.output_item.done", event_id="e", response_id="resp_1",
            output_index=0, item=ASSISTANT,
        ),
        se.OutputItemDone(
            response_id="resp_1", output_index=0, item_id="item_2", item_type="message",
            role="assistant", status="completed", content_types=("output_audio",),
            text="Hello there.", call_id=None, name=None, arguments=None, output=None,
        ),
    ),
    (
        ga.ResponseContentPartAddedEvent(
            type="response.content_part.added", event_id="e",
            part=ga_part.Part(type="audio", transcript=""), **PART,
        ),
        se.ContentPartAdded(part_type="audio", **PART),
    ),
    (
        ga.ResponseContentPartDoneEvent(
            type="response.content_part.done", event_id="e",
            part={"type": "audio", "transcript": "Hello there."}, **PART,
        ),
        se.ContentPartDone(part_type="audio", text="Hello there.", **PART),
    ),
    (
        ga.ResponseAudioDeltaEvent(type="response.output_audio.delta", event_id="e", delta=B64,
                                   **PART),
        se.AudioDelta(pcm=PCM, **PART),
    ),
    (ga.ResponseAudioDoneEvent(type="response.output_audio.done", event_id="e", **PART),
     se.AudioDone(**PART)),
    (
        ga.ResponseAudioTranscriptDeltaEvent(
            type="response.output_audio_transcript.delta", event_id="e", delta="Hel", **PART
        ),
        se.TranscriptDelta(delta="Hel", **PART),
    ),
    (
        ga.ResponseAudioTranscriptDoneEvent(
            type="response.output_audio_transcript.done", event_id="e",
            transcript="Hello there.", **PART,
        ),
        se.TranscriptDone(transcript="Hello there.", **PART),
    ),
    (ga.ResponseTextDeltaEvent(type="response.output_text.delta", event_id="e", delta="Hi",
                               **PART),
     se.TextDelta(delta="Hi", **PART)),
    (ga.ResponseTextDoneEvent(type="response.output_text.done", event_id="e", text="Hi.", **PART),
     se.TextDone(text="Hi.", **PART)),
    (
        ga.ResponseFunctionCallArgumentsDeltaEvent(
            type="response.function_call_arguments.delta", event_id="e", response_id="resp_1",
            item_id="item_3", output_index=1, call_id="call_1", delta='{"ci',
        ),
        se.FunctionCallArgumentsDelta(
            response_id="resp_1", item_id="item_3", output_index=1, call_id="call_1",
            delta='{"ci',
        ),
    ),
    (
        ga.ResponseFunctionCallArgumentsDoneEvent(
            type="response.function_call_arguments.done", event_id="e", response_id="resp_1",
            item_id="item_3", output_index=1, call_id="call_1", name="get_weather",
            arguments='{"city": "Oslo"}',
        ),
        se.FunctionCallArgumentsDone(
            response_id="resp_1", item_id="item_3", output_index=1, call_id="call_1",
            name="get_weather", arguments='{"city": "Oslo"}',
        ),
    ),
    (
        ga.RateLimitsUpdatedEvent(
            type="rate_limits.updated", event_id="e",
            rate_limits=[{"name": "tokens", "limit": 1000, "remaining": 900,
                          "reset_seconds": 1.5}],
        ),
        se.RateLimitsUpdated(
            limits=(se.RateLimit(name="tokens", limit=1000, remaining=900, reset_seconds=1.5),)
        ),
    ),
    (
        ga.RealtimeErrorEvent(
            type="error", event_id="e",
            error={"type": "invalid_request_error", "code": "invalid_value",
                   "message": "Invalid value: 'x'.", "param": "session.voice",
                   "event_id": "vp_1"},
        ),
        se.ServerError(
            type="invalid_request_error", code="invalid_value", message="Invalid value: 'x'.",
            param="session.voice", event_id="vp_1",
        ),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("model", "expected"), GA_CASES, ids=lambda v: getattr(v, "type", ""))
def test_ga_event_round_trips(model: pydantic.BaseModel, expected: se.ServerEvent) -> None:
    # The sample must be a valid member of the GA server-event union.
    pydantic.TypeAdapter(ga_union.RealtimeServerEvent).validate_json(model.model_dump_json())
    assert parse_all(model) == expected


BETA_CASES: list[tuple[pydantic.BaseModel, se.ServerEvent]] = [
    (
        beta.ConversationItemCreatedEvent(
            type="conversation.item.created", event_id="e", previous_item_id="item_1",
            item=beta.ConversationItem(
                id="item_2", object="realtime.item", type="message", role="assistant",
                status="in_progress", content=[{"type": "text", "text": "Hi"}],
            ),
        ),
        se.ItemAdded(
            item_id="item_2", previous_item_id="item_1", item_type="message", role="assistant",
            status="in_progress", content_types=("text",), text="Hi", call_id=None, name=None,
            arguments=None, output=None,
        ),
    ),
    (beta.ResponseAudioDeltaEvent(type="response.audio.delta", event_id="e", delta=B64, **PART),
     se.AudioDelta(pcm=PCM, **PART)),
    (beta.ResponseAudioDoneEvent(type="response.audio.done", event_id="e", **PART),
     se.AudioDone(**PART)),
    (
        beta.ResponseAudioTranscriptDeltaEvent(
            type="response.audio_transcript.delta", event_id="e", delta="Hel", **PART
        ),
        se.TranscriptDelta(delta="Hel", **PART),
    ),
    (
        beta.ResponseAudioTranscriptDoneEvent(
            type="response.audio_transcript.done", event_id="e", transcript="Hello.", **PART
        ),
        se.TranscriptDone(transcript="Hello.", **PART),
    ),
    (beta.ResponseTextDeltaEvent(type="response.text.delta", event_id="e", delta="Hi", **PART),
     se.TextDelta(delta="Hi", **PART)),
    (beta.ResponseTextDoneEvent(type="response.text.done", event_id="e", text="Hi.", **PART),
     se.TextDone(text="Hi.", **PART)),
    (
        beta.ResponseFunctionCallArgumentsDoneEvent(
            type="response.function_call_arguments.done", event_id="e", response_id="resp_1",
            item_id="item_3", output_index=1, call_id="call_1", arguments="{}",
        ),
        se.FunctionCallArgumentsDone(
            response_id="resp_1", item_id="item_3", output_index=1, call_id="call_1",
            name=None, arguments="{}",
        ),
    ),
    (
        beta.SessionUpdatedEvent(
            type="session.updated", event_id="e",
            session={"id": "sess_1", "model": "gpt-4o-realtime-preview", "voice": "alloy"},
        ),
        se.SessionUpdated(session_id="sess_1", model="gpt-4o-realtime-preview"),
    ),
    (
        beta.ResponseDoneEvent(
            type="response.done", event_id="e",
            response={"id": "resp_1", "status": "failed",
                      "status_details": {"type": "failed",
                                         "error": {"type": "server_error", "code": "overloaded"}},
                      "output": [], "usage": None},
        ),
        se.ResponseDone(
            response_id="resp_1", status="failed", status_reason=None,
            error_type="server_error", error_code="overloaded", input_tokens=None,
            input_text_tokens=None, input_audio_tokens=None, input_cached_tokens=None,
            output_tokens=None, output_text_tokens=None, output_audio_tokens=None,
            output_item_ids=(),
        ),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("model", "expected"), BETA_CASES, ids=lambda v: getattr(v, "type", ""))
def test_beta_event_round_trips(model: pydantic.BaseModel, expected: se.ServerEvent) -> None:
    pydantic.TypeAdapter(beta.RealtimeServerEvent).validate_json(model.model_dump_json())
    assert parse_all(model) == expected


AUDIO = b'{"type":"response.output_audio.delta","response_id":"r","item_id":"i",' \
        b'"output_index":0,"content_index":0,"delta":'  # fmt: skip

MALFORMED: list[tuple[str, bytes | str, str]] = [
    ("truncated json", b'{"type": "error"', "invalid_json"),
    ("not json", b"hello", "invalid_json"),
    ("bad utf-8", b'{"type": "\xff"}', "invalid_json"),
    ("empty", b"", "invalid_json"),
    ("nesting bomb", b"[" * 100_000 + b"]" * 100_000, "not_object"),
    ("nesting bomb in a skipped field",
     b'{"type": "error", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "too_deep"),
    ("lone surrogate", '{"type": "\ud800"}', "invalid_json"),
    ("array", b'[{"type": "error"}]', "not_object"),
    ("string", '"response.done"', "not_object"),
    ("null", b"null", "not_object"),
    ("unknown type", b'{"type": "response.output_video.delta", "delta": ""}', "unknown_type"),
    ("missing type", b'{"event_id": "e"}', "unknown_type"),
    ("type not str", b'{"type": 7}', "unknown_type"),
    ("missing field", b'{"type": "input_audio_buffer.speech_started", "item_id": "i"}',
     "bad_fields"),
    ("wrong field type",
     b'{"type": "input_audio_buffer.speech_started", "item_id": "i", "audio_start_ms": "1"}',
     "bad_fields"),
    ("item without id",
     b'{"type": "conversation.item.added", "item": {"type": "message", "role": "user"}}',
     "bad_fields"),
    ("response without id", b'{"type": "response.done", "response": {"status": "completed"}}',
     "bad_fields"),
    ("bad base64", AUDIO + b'"AAA*"}', "bad_audio"),
    ("bad base64 padding", AUDIO + b'"AAA"}', "bad_audio"),
    ("odd length audio", AUDIO + b'"AAAA"}', "bad_audio"),
    ("non-ascii base64", AUDIO + '"AAé="}'.encode(), "bad_audio"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "raw", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_frame_is_counted_and_dropped(name: str, raw: bytes | str, reason: str) -> None:
    rejected: dict[str, int] = {"bad_fields": 3}  # the caller's counter accumulates
    assert parse_server_event(raw, rejected) is None
    expected = {"bad_fields": 3}
    expected[reason] = expected.get(reason, 0) + 1
    assert rejected == expected


IGNORED: list[dict[str, Any]] = [
    {"type": "output_audio_buffer.started", "event_id": "e", "response_id": "r"},
    {"type": "output_audio_buffer.stopped", "event_id": "e", "response_id": "r"},
    {"type": "output_audio_buffer.cleared", "event_id": "e", "response_id": "r"},
    {"type": "conversation.item.done", "event_id": "e", "item": {"type": "message"}},
    {"type": "conversation.created", "event_id": "e", "conversation": {"id": "c"}},
    {"type": "input_audio_buffer.timeout_triggered", "event_id": "e", "item_id": "i",
     "audio_start_ms": 0, "audio_end_ms": 1},
]  # fmt: skip


@pytest.mark.parametrize("frame", IGNORED, ids=[f["type"] for f in IGNORED])
def test_known_unused_types_are_ignored_not_rejected(frame: dict[str, Any]) -> None:
    rejected: dict[str, int] = {}
    assert parse_server_event(json.dumps(frame), rejected) is None
    assert rejected == {}


def test_unknown_fields_are_ignored() -> None:
    raw = (
        b'{"type": "input_audio_buffer.speech_started", "item_id": "i", "audio_start_ms": 5,'
        b' "event_id": "e", "future_field": {"deep": [1, 2, {"x": null}]}}'
    )
    rejected: dict[str, int] = {}
    assert parse_server_event(raw, rejected) == se.SpeechStarted(item_id="i", audio_start_ms=5)
    assert rejected == {}


def test_empty_audio_delta_is_an_empty_chunk() -> None:
    rejected: dict[str, int] = {}
    ev = parse_server_event(AUDIO + b'""}', rejected)
    assert isinstance(ev, se.AudioDelta) and ev.pcm == b"" and rejected == {}


def test_events_survive_a_msgpack_hop_as_one_tagged_union() -> None:
    events = [expected for _, expected in GA_CASES + BETA_CASES]
    decoder = msgspec.msgpack.Decoder(se.ServerEvent)
    encoder = msgspec.msgpack.Encoder()
    assert [decoder.decode(encoder.encode(ev)) for ev in events] == events
