"""Normalised, typed Realtime server events: what voxpipe acts on, whatever the dialect.

GA and beta names map to the same event (``response.output_audio.delta`` and
``response.audio.delta`` both give :class:`AudioDelta`, with the PCM already decoded).
The events are frozen msgspec Structs tagged by class name (``kind``), so a stage can
forward them as they are. :mod:`server_events` builds them from wire frames.
"""

from __future__ import annotations

import msgspec


class _Event(msgspec.Struct, frozen=True, gc=False, kw_only=True, tag_field="kind", tag=True):
    pass


class SessionCreated(_Event, frozen=True):
    session_id: str | None
    model: str | None


class SessionUpdated(_Event, frozen=True):
    session_id: str | None
    model: str | None


class SpeechStarted(_Event, frozen=True):
    item_id: str
    audio_start_ms: int


class SpeechStopped(_Event, frozen=True):
    item_id: str
    audio_end_ms: int


class InputCommitted(_Event, frozen=True):
    item_id: str
    previous_item_id: str | None


class InputCleared(_Event, frozen=True):
    pass


class _ItemEvent(_Event, frozen=True):
    """A conversation item in summary: ``text`` joins its text and transcript parts."""

    item_id: str
    item_type: str
    role: str | None
    status: str | None
    content_types: tuple[str, ...]
    text: str | None
    call_id: str | None
    name: str | None
    arguments: str | None
    output: str | None


class ItemAdded(_ItemEvent, frozen=True):
    previous_item_id: str | None


class ItemRetrieved(_ItemEvent, frozen=True):
    pass


class OutputItemAdded(_ItemEvent, frozen=True):
    response_id: str
    output_index: int


class OutputItemDone(_ItemEvent, frozen=True):
    response_id: str
    output_index: int


class ItemDeleted(_Event, frozen=True):
    item_id: str


class ItemTruncated(_Event, frozen=True):
    item_id: str
    content_index: int
    audio_end_ms: int


class InputTranscriptDelta(_Event, frozen=True):
    item_id: str
    content_index: int
    delta: str


class InputTranscriptCompleted(_Event, frozen=True):
    item_id: str
    content_index: int
    transcript: str


class InputTranscriptFailed(_Event, frozen=True):
    item_id: str
    content_index: int
    message: str


class ResponseCreated(_Event, frozen=True):
    response_id: str


class ResponseDone(_Event, frozen=True):
    """End of a response; token counts are None when the server did not report them."""

    response_id: str
    status: str
    status_reason: str | None
    error_type: str | None
    error_code: str | None
    input_tokens: int | None
    input_text_tokens: int | None
    input_audio_tokens: int | None
    input_cached_tokens: int | None
    output_tokens: int | None
    output_text_tokens: int | None
    output_audio_tokens: int | None
    output_item_ids: tuple[str, ...]
    error_message: str | None = None
    input_cached_text_tokens: int | None = None
    input_cached_audio_tokens: int | None = None


class _PartEvent(_Event, frozen=True):
    response_id: str
    item_id: str
    output_index: int
    content_index: int


class ContentPartAdded(_PartEvent, frozen=True):
    part_type: str  # "audio" | "text"


class ContentPartDone(_PartEvent, frozen=True):
    part_type: str  # "audio" | "text"
    text: str | None  # the transcript of an audio part


class AudioDelta(_PartEvent, frozen=True):
    pcm: bytes  # pcm16 little-endian at the session's output rate


class AudioDone(_PartEvent, frozen=True):
    pass


class TranscriptDelta(_PartEvent, frozen=True):
    delta: str


class TranscriptDone(_PartEvent, frozen=True):
    transcript: str


class TextDelta(_PartEvent, frozen=True):
    delta: str


class TextDone(_PartEvent, frozen=True):
    text: str


class FunctionCallArgumentsDelta(_Event, frozen=True):
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


class FunctionCallArgumentsDone(_Event, frozen=True):
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    name: str | None  # absent in beta; the output item carries it
    arguments: str


class RateLimit(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    name: str | None
    limit: int | None
    remaining: int | None
    reset_seconds: float | None


class RateLimitsUpdated(_Event, frozen=True):
    limits: tuple[RateLimit, ...]


class ServerError(_Event, frozen=True):
    type: str
    code: str | None
    message: str
    param: str | None
    event_id: str | None


ServerEvent = (
    SessionCreated | SessionUpdated | SpeechStarted | SpeechStopped | InputCommitted
    | InputCleared | ItemAdded | ItemDeleted | ItemTruncated | ItemRetrieved
    | InputTranscriptDelta | InputTranscriptCompleted | InputTranscriptFailed
    | ResponseCreated | ResponseDone | OutputItemAdded | OutputItemDone
    | ContentPartAdded | ContentPartDone | AudioDelta | AudioDone
    | TranscriptDelta | TranscriptDone | TextDelta | TextDone
    | FunctionCallArgumentsDelta | FunctionCallArgumentsDone | RateLimitsUpdated | ServerError
)  # fmt: skip
