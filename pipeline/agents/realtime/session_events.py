"""What a ``RealtimeSession`` tells the agent: event names and payloads."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from ipc.schema import ResponseDone, TokenDetails

SessionEventName = Literal[
    "input_speech_started",
    "input_speech_stopped",
    "input_speech_committed",
    "input_speech_transcription_delta",
    "input_speech_transcription_completed",
    "response_created",
    "response_content_added",
    "response_transcript_delta",
    "response_content_done",
    "response_done",
    "response_interrupted",
    "agent_speech_transcription_completed",
    "agent_speech_stopped",
    "function_calls_collected",
    "function_calls_finished",
    "metrics_collected",
    "error",
]


@dataclass(frozen=True)
class ContentInfo:
    """One content part of a response (the seed's ``_ContentProto``, minus the streams:
    audio and text flow through the stages, not through user code)."""

    response_id: str
    item_id: str
    content_index: int
    content_type: str  # "audio" | "text"
    text: str = ""


@dataclass(frozen=True)
class InputTranscription:
    """The seed's ``_InputTranscriptionProto``."""

    item_id: str
    transcript: str


@dataclass
class ResponseTiming:
    """Timeline stamps (ms) and usage of one response, for ``metrics_collected``."""

    response_id: str
    created_ms: float
    done_ms: float | None = None
    status: str = "in_progress"
    input_tokens: int | None = None
    output_tokens: int | None = None
    details: TokenDetails | None = None
    reason: str | None = None
    error: tuple[str | None, str | None, str | None] | None = None  # (type, code, message)
    extra: dict[str, Any] = field(default_factory=dict)
    created_wall: float = field(default_factory=time.time)  # when the agent heard of it

    def done(self, e: ResponseDone, t_ms: float | None) -> None:
        """The response ended (``e``) at ``t_ms`` on the timeline (None: not placed)."""
        self.done_ms = self.created_ms if t_ms is None else t_ms
        self.status = e.status
        self.input_tokens = e.input_tokens
        self.output_tokens = e.output_tokens
        self.details, self.reason = e.details, e.reason
        if e.error_type is not None or e.error_code is not None or e.error_message is not None:
            self.error = (e.error_type, e.error_code, e.error_message)

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


@dataclass
class SpeechEnds:
    """The agent's replies whose audio ended and whose transcript is in (the seed's
    events for a model without truncation)."""

    latest: str | None = None  # the newest audio item: only its end means "listening"
    said: dict[str, str] = field(default_factory=dict)  # item -> whole transcript
    stopped: set[str] = field(default_factory=set)  # items whose audio stopped playing

    def complete(self) -> list[str]:
        """Items both stopped and transcribed (each reported once)."""
        done = [item for item in self.said if item in self.stopped]
        self.stopped.difference_update(done)
        return done
