"""GA vs beta: event names and object shapes for one connection.

The server works in GA terms throughout; a `Dialect` renders its state for the
client. A connection speaks beta when it sent the header
`OpenAI-Beta: realtime=v1`: audio/text event names lose the `output_` prefix,
an added item is announced as `conversation.item.created` (no `.done`), the
session is flat (`input_audio_format`, `turn_detection`, `voice`,
`modalities`), and assistant content parts are typed `text`/`audio`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import wire
from .audio_format import GA_TYPE_OF, AudioFormat
from .conversation import ContentPart, Item

if TYPE_CHECKING:
    from .session_config import ServerSessionConfig, ServerTurnDetection

_BETA_EVENT_TYPES: dict[str, str | None] = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
    "conversation.item.done": None,
}
_BETA_CONTENT_TYPES = {"output_text": "text", "output_audio": "audio"}
# The beta session schema only admits these model names.
_BETA_MODELS = frozenset({
    "gpt-realtime", "gpt-realtime-2025-08-28", "gpt-4o-realtime-preview",
    "gpt-4o-realtime-preview-2024-10-01", "gpt-4o-realtime-preview-2024-12-17",
    "gpt-4o-realtime-preview-2025-06-03", "gpt-4o-mini-realtime-preview",
    "gpt-4o-mini-realtime-preview-2024-12-17",
})


def ga_format(fmt: AudioFormat) -> dict[str, Any]:
    """A GA audio format object (`{"type": "audio/pcm", "rate": 24000}`, `audio/pcmu`...)."""
    if fmt == "pcm16":
        return {"type": "audio/pcm", "rate": wire.SAMPLE_RATE}
    return {"type": GA_TYPE_OF[fmt]}


@dataclass
class Usage:
    """Token counts of one response, estimated from durations and text."""

    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0


@dataclass
class ResponseRecord:
    """What a `response.created` / `response.done` reports about a response."""

    id: str
    conversation_id: str | None
    audio_output: bool
    voice: str
    max_output_tokens: int | str
    metadata: dict[str, str] | None = None
    output_format: AudioFormat = "pcm16"
    status: str = "in_progress"
    status_details: dict[str, Any] | None = None
    usage: Usage | None = None


class Dialect:
    """Renders events and objects for a GA (default) or beta client."""

    def __init__(self, beta: bool) -> None:
        self.beta = beta

    def event_type(self, ga_type: str) -> str | None:
        """The wire name for a GA event type; None if this dialect has no such event."""
        if self.beta:
            return _BETA_EVENT_TYPES.get(ga_type, ga_type)
        return ga_type

    def modalities(self, audio_output: bool) -> list[str]:
        """Output modalities as the dialect lists them."""
        if self.beta:
            return ["text", "audio"] if audio_output else ["text"]
        return ["audio"] if audio_output else ["text"]

    def content_part(self, part: ContentPart, *, include_audio: bool) -> dict[str, Any]:
        """One content part of an item."""
        ctype = _BETA_CONTENT_TYPES.get(part.type, part.type) if self.beta else part.type
        out: dict[str, Any] = {"type": ctype}
        if part.type in ("input_text", "output_text"):
            out["text"] = part.text or ""
        elif part.type == "input_image":
            out["image_url"] = part.image_url
        else:
            out["transcript"] = part.transcript
            if include_audio and part.audio is not None:
                out["audio"] = wire.encode_b64(part.audio.tobytes())
        return out

    def item(self, item: Item, *, include_audio: bool = False) -> dict[str, Any]:
        """A conversation item; audio bytes only when asked (retrieve)."""
        out: dict[str, Any] = {
            "id": item.id, "object": "realtime.item", "type": item.type, "status": item.status,
        }
        if item.type == "message":
            out["role"] = item.role
            out["content"] = [
                self.content_part(p, include_audio=include_audio) for p in item.content
            ]
        elif item.type == "function_call":
            out.update(name=item.name, call_id=item.call_id, arguments=item.arguments)
        else:
            out.update(call_id=item.call_id, output=item.output)
        return out

    def usage(self, usage: Usage | None) -> dict[str, Any] | None:
        """The `usage` object of a finished response."""
        if usage is None:
            return None
        inputs = usage.input_text_tokens + usage.input_audio_tokens
        outputs = usage.output_text_tokens + usage.output_audio_tokens
        input_details: dict[str, Any] = {
            "text_tokens": usage.input_text_tokens,
            "audio_tokens": usage.input_audio_tokens,
            "cached_tokens": 0,
        }
        if not self.beta:
            input_details["cached_tokens_details"] = {"text_tokens": 0, "audio_tokens": 0}
        return {
            "total_tokens": inputs + outputs,
            "input_tokens": inputs,
            "output_tokens": outputs,
            "input_token_details": input_details,
            "output_token_details": {
                "text_tokens": usage.output_text_tokens,
                "audio_tokens": usage.output_audio_tokens,
            },
        }

    def response(self, rec: ResponseRecord, output: list[Item]) -> dict[str, Any]:
        """A response object with its output items."""
        out: dict[str, Any] = {
            "id": rec.id,
            "object": "realtime.response",
            "status": rec.status,
            "status_details": rec.status_details,
            "output": [self.item(i) for i in output],
            "conversation_id": rec.conversation_id,
            "max_output_tokens": rec.max_output_tokens,
            "usage": self.usage(rec.usage),
            "metadata": rec.metadata,
        }
        if self.beta:
            out.update(
                modalities=self.modalities(rec.audio_output),
                voice=rec.voice,
                output_audio_format=rec.output_format,
                temperature=0.8,
            )
        else:
            out["output_modalities"] = self.modalities(rec.audio_output)
            out["audio"] = {"output": {"format": ga_format(rec.output_format), "voice": rec.voice}}
        return out

    def session(self, cfg: ServerSessionConfig) -> dict[str, Any]:
        """The full session object for `session.created` / `session.updated`."""
        if self.beta:
            return self._beta_session(cfg)
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": cfg.id,
            "model": cfg.model,
            "output_modalities": self.modalities(cfg.audio_output),
            "instructions": cfg.instructions,
            "tools": cfg.tools,
            "tool_choice": cfg.tool_choice,
            "max_output_tokens": cfg.max_output_tokens,
            "tracing": cfg.tracing,
            "truncation": "auto",
            "prompt": None,
            "include": None,
            "audio": {
                "input": {
                    "format": ga_format(cfg.input_format),
                    "transcription": cfg.input_transcription,
                    "noise_reduction": cfg.noise_reduction,
                    "turn_detection": _turn_detection(cfg.turn_detection, ga=True),
                },
                "output": {
                    "format": ga_format(cfg.output_format), "voice": cfg.voice, "speed": cfg.speed,
                },
            },
        }

    def _beta_session(self, cfg: ServerSessionConfig) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": cfg.id,
            "object": "realtime.session",
            "modalities": self.modalities(cfg.audio_output),
            "instructions": cfg.instructions,
            "voice": voice_name(cfg.voice),
            "input_audio_format": cfg.input_format,
            "output_audio_format": cfg.output_format,
            "input_audio_transcription": cfg.input_transcription,
            "input_audio_noise_reduction": cfg.noise_reduction,
            "turn_detection": _turn_detection(cfg.turn_detection, ga=False),
            "tools": cfg.tools,
            "tool_choice": cfg.tool_choice if isinstance(cfg.tool_choice, str) else "required",
            "temperature": cfg.temperature,
            "max_response_output_tokens": cfg.max_output_tokens,
            "speed": cfg.speed,
            "tracing": cfg.tracing,
        }
        if cfg.model in _BETA_MODELS:
            out["model"] = cfg.model
        return out


def voice_name(voice: str | dict[str, Any]) -> str:
    """A voice as a plain name (custom voices are objects with an `id`)."""
    return voice if isinstance(voice, str) else str(voice.get("id", ""))


def _turn_detection(td: ServerTurnDetection | None, *, ga: bool) -> dict[str, Any] | None:
    if td is None:
        return None
    out: dict[str, Any] = {
        "type": td.type,
        "create_response": td.create_response,
        "interrupt_response": td.interrupt_response,
    }
    if td.type == "semantic_vad":
        out["eagerness"] = td.eagerness
    else:
        out.update(
            threshold=td.threshold,
            prefix_padding_ms=td.prefix_padding_ms,
            silence_duration_ms=td.silence_duration_ms,
        )
        if ga:
            out["idle_timeout_ms"] = td.idle_timeout_ms
    return out
