"""The Realtime server-event parser that never raises: wire frame -> typed event.

Frames are decoded by :mod:`server_wire` (GA and beta shapes) and normalised into the
events of :mod:`server_event_types`, re-exported here so ``server_events.AudioDelta``
and friends keep working. Bad frames are counted by reason, never raised.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Any

import msgspec

from pipeline.providers.openai import server_wire as w
from pipeline.providers.openai.server_event_types import (
    AudioDelta,
    AudioDone,
    ContentPartAdded,
    ContentPartDone,
    FunctionCallArgumentsDelta,
    FunctionCallArgumentsDone,
    InputCleared,
    InputCommitted,
    InputTranscriptCompleted,
    InputTranscriptDelta,
    InputTranscriptFailed,
    ItemAdded,
    ItemDeleted,
    ItemRetrieved,
    ItemTruncated,
    OutputItemAdded,
    OutputItemDone,
    RateLimit,
    RateLimitsUpdated,
    ResponseCreated,
    ResponseDone,
    ServerError,
    ServerEvent,
    SessionCreated,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    TextDelta,
    TextDone,
    TranscriptDelta,
    TranscriptDone,
)

__all__ = [  # the event types are re-exported: callers use `server_events.X`
    "BAD_AUDIO", "BAD_FIELDS", "INVALID_JSON", "NOT_OBJECT", "TOO_DEEP", "UNKNOWN_TYPE",
    "AudioDelta", "AudioDone", "ContentPartAdded", "ContentPartDone", "FunctionCallArgumentsDelta",
    "FunctionCallArgumentsDone", "InputCleared", "InputCommitted", "InputTranscriptCompleted",
    "InputTranscriptDelta", "InputTranscriptFailed", "ItemAdded", "ItemDeleted", "ItemRetrieved",
    "ItemTruncated", "OutputItemAdded", "OutputItemDone", "RateLimit", "RateLimitsUpdated",
    "RejectCounter", "ResponseCreated", "ResponseDone", "ServerError", "ServerEvent",
    "SessionCreated", "SessionUpdated", "SpeechStarted", "SpeechStopped", "TextDelta", "TextDone",
    "TranscriptDelta", "TranscriptDone", "parse_server_event",
]

RejectCounter = dict[str, int]
"""Rejected frames by reason; owned by the caller (one per connection, or shared)."""

INVALID_JSON = "invalid_json"
NOT_OBJECT = "not_object"
UNKNOWN_TYPE = "unknown_type"
BAD_FIELDS = "bad_fields"
BAD_AUDIO = "bad_audio"
TOO_DEEP = "too_deep"  # nesting beyond the interpreter's recursion limit


# -- normalisation --------------------------------------------------------------------


class _BadAudio(Exception):
    pass


def _item_fields(item: w.Item) -> dict[str, Any]:
    if item.id is None:
        raise ValueError("item without id")
    parts = item.content or ()
    texts = [t for p in parts if (t := p.text if p.text is not None else p.transcript) is not None]
    return {
        "item_id": item.id,
        "item_type": item.type,
        "role": item.role,
        "status": item.status,
        "content_types": tuple(p.type or "" for p in parts),
        "text": "".join(texts) if texts else None,
        "call_id": item.call_id,
        "name": item.name,
        "arguments": item.arguments,
        "output": item.output,
    }


def _part(e: w._PartEvent) -> dict[str, Any]:
    return {
        "response_id": e.response_id,
        "item_id": e.item_id,
        "output_index": e.output_index,
        "content_index": e.content_index,
    }


def _part_type(part: w.Part) -> str:
    # GA names content "output_audio"/"output_text" in items; parts say "audio"/"text".
    kind = part.type or ""
    return kind.removeprefix("output_")


def _pcm(pcm: bytes) -> bytes:
    if len(pcm) % 2:
        raise _BadAudio  # not a whole number of int16 samples
    return pcm


def _response_done(r: w.Response) -> ResponseDone:
    details = r.status_details or w.StatusDetails()
    err = details.error or w.ErrorBody()
    usage = r.usage or w.Usage()
    ind = usage.input_token_details or w.InputTokenDetails()
    outd = usage.output_token_details or w.OutputTokenDetails()
    cached = ind.cached_tokens_details or w.CachedTokenDetails()
    return ResponseDone(
        response_id=r.id,
        status=r.status or details.type or "completed",
        status_reason=details.reason,
        error_type=err.type,
        error_code=err.code,
        input_tokens=usage.input_tokens,
        input_text_tokens=ind.text_tokens,
        input_audio_tokens=ind.audio_tokens,
        input_cached_tokens=ind.cached_tokens,
        output_tokens=usage.output_tokens,
        error_message=err.message,
        input_cached_text_tokens=cached.text_tokens,
        input_cached_audio_tokens=cached.audio_tokens,
        output_text_tokens=outd.text_tokens,
        output_audio_tokens=outd.audio_tokens,
        output_item_ids=tuple(i.id for i in r.output or () if i.id is not None),
    )


def _error(e: w.Error) -> ServerError:
    b = e.error
    return ServerError(
        type=b.type or "error", code=b.code, message=b.message or "", param=b.param,
        event_id=b.event_id,
    )  # fmt: skip


_Convert = Callable[[Any], ServerEvent]

_CONVERTERS: dict[type[Any], _Convert] = {
    w.SessionCreated: lambda e: SessionCreated(session_id=e.session.id, model=e.session.model),
    w.SessionUpdated: lambda e: SessionUpdated(session_id=e.session.id, model=e.session.model),
    w.SpeechStarted: lambda e: SpeechStarted(item_id=e.item_id, audio_start_ms=e.audio_start_ms),
    w.SpeechStopped: lambda e: SpeechStopped(item_id=e.item_id, audio_end_ms=e.audio_end_ms),
    w.InputCommitted: lambda e: InputCommitted(
        item_id=e.item_id, previous_item_id=e.previous_item_id
    ),
    w.InputCleared: lambda e: InputCleared(),
    w.ItemAdded: lambda e: ItemAdded(previous_item_id=e.previous_item_id, **_item_fields(e.item)),
    w.ItemDeleted: lambda e: ItemDeleted(item_id=e.item_id),
    w.ItemTruncated: lambda e: ItemTruncated(
        item_id=e.item_id, content_index=e.content_index, audio_end_ms=e.audio_end_ms
    ),
    w.ItemRetrieved: lambda e: ItemRetrieved(**_item_fields(e.item)),
    w.InputTranscriptDelta: lambda e: InputTranscriptDelta(
        item_id=e.item_id, content_index=e.content_index or 0, delta=e.delta or ""
    ),
    w.InputTranscriptCompleted: lambda e: InputTranscriptCompleted(
        item_id=e.item_id, content_index=e.content_index, transcript=e.transcript
    ),
    w.InputTranscriptFailed: lambda e: InputTranscriptFailed(
        item_id=e.item_id,
        content_index=e.content_index or 0,
        message=e.error.message or e.error.code or e.error.type or "transcription failed",
    ),
    w.ResponseCreated: lambda e: ResponseCreated(response_id=e.response.id),
    w.ResponseDone: lambda e: _response_done(e.response),
    w.OutputItemAdded: lambda e: OutputItemAdded(
        response_id=e.response_id, output_index=e.output_index, **_item_fields(e.item)
    ),
    w.OutputItemDone: lambda e: OutputItemDone(
        response_id=e.response_id, output_index=e.output_index, **_item_fields(e.item)
    ),
    w.ContentPartAdded: lambda e: ContentPartAdded(part_type=_part_type(e.part), **_part(e)),
    w.ContentPartDone: lambda e: ContentPartDone(
        part_type=_part_type(e.part),
        text=e.part.text if e.part.text is not None else e.part.transcript,
        **_part(e),
    ),
    w.AudioDelta: lambda e: AudioDelta(pcm=_pcm(e.delta), **_part(e)),
    w.AudioDone: lambda e: AudioDone(**_part(e)),
    w.TranscriptDelta: lambda e: TranscriptDelta(delta=e.delta, **_part(e)),
    w.TranscriptDone: lambda e: TranscriptDone(transcript=e.transcript, **_part(e)),
    w.TextDelta: lambda e: TextDelta(delta=e.delta, **_part(e)),
    w.TextDone: lambda e: TextDone(text=e.text, **_part(e)),
    w.FunctionCallArgumentsDelta: lambda e: FunctionCallArgumentsDelta(
        response_id=e.response_id,
        item_id=e.item_id,
        output_index=e.output_index,
        call_id=e.call_id,
        delta=e.delta,
    ),
    w.FunctionCallArgumentsDone: lambda e: FunctionCallArgumentsDone(
        response_id=e.response_id,
        item_id=e.item_id,
        output_index=e.output_index,
        call_id=e.call_id,
        name=e.name,
        arguments=e.arguments,
    ),
    w.RateLimitsUpdated: lambda e: RateLimitsUpdated(
        limits=tuple(
            RateLimit(
                name=r.name, limit=r.limit, remaining=r.remaining, reset_seconds=r.reset_seconds
            )
            for r in e.rate_limits
        )
    ),
    w.Error: _error,
}
# Beta names share the GA shapes (subclasses); dispatch is on the exact class.
for _beta, _ga in (
    (w.BetaItemCreated, w.ItemAdded),
    (w.BetaAudioDelta, w.AudioDelta),
    (w.BetaAudioDone, w.AudioDone),
    (w.BetaTranscriptDelta, w.TranscriptDelta),
    (w.BetaTranscriptDone, w.TranscriptDone),
    (w.BetaTextDelta, w.TextDelta),
    (w.BetaTextDone, w.TextDone),
):
    _CONVERTERS[_beta] = _CONVERTERS[_ga]


def _reject(rejected: RejectCounter, reason: str) -> None:
    rejected[reason] = rejected.get(reason, 0) + 1


class _Envelope(msgspec.Struct):
    type: Any = None
    delta: Any = None


_ENVELOPE = msgspec.json.Decoder(_Envelope)


def _classify(raw: str | bytes) -> str:
    """Why a frame failed to decode (slow path, taken for bad frames only)."""
    try:
        env = _ENVELOPE.decode(raw)
    except msgspec.ValidationError:
        return NOT_OBJECT  # the only field-free way an envelope can fail validation
    except (msgspec.DecodeError, UnicodeError):
        return INVALID_JSON
    except RecursionError:
        return TOO_DEEP
    if env.type not in w.KNOWN_TYPES:
        return UNKNOWN_TYPE
    if env.type in w.AUDIO_DELTA_TYPES and isinstance(env.delta, str):
        try:
            binascii.a2b_base64(env.delta, strict_mode=True)
        except (binascii.Error, ValueError):
            return BAD_AUDIO
    return BAD_FIELDS


def parse_server_event(raw: str | bytes, rejected: RejectCounter) -> ServerEvent | None:
    """Decode one websocket frame; never raises.

    Returns None for a frame that is rejected (counted in ``rejected`` under
    ``invalid_json``, ``not_object``, ``unknown_type``, ``bad_fields``, ``bad_audio`` or
    ``too_deep``)
    and for a known type voxpipe does not use (not counted).
    """
    try:
        wire = w.DECODER.decode(raw)
    # DecodeError includes ValidationError; msgspec reports bad UTF-8 (or a str holding
    # lone surrogates) as UnicodeError, and a nesting bomb (even in a skipped field) as
    # RecursionError.
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        _reject(rejected, _classify(raw))
        return None
    convert = _CONVERTERS.get(type(wire))
    if convert is None:
        return None  # an ignored type
    try:
        return convert(wire)
    except _BadAudio:
        _reject(rejected, BAD_AUDIO)
    except Exception:  # a converter meeting a shape it did not expect: drop, never raise
        _reject(rejected, BAD_FIELDS)
    return None
