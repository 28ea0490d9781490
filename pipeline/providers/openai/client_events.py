"""Builders for every client event of the OpenAI Realtime protocol.

Each builder returns a JSON-ready dict carrying a fresh ``event_id`` (the server echoes
it in ``error`` events, which is how a failure is traced back to the request). Item
builders (``user_text_item`` ...) return bare items for ``item_create``, so the same
items serve a live turn and a chat-context replay after a reconnect.

Only a few shapes differ between the GA and the beta protocol: ``session.update``, the
assistant text content type and ``response.create``'s modalities; those builders take the
protocol.
"""

from __future__ import annotations

import base64
import itertools
import secrets
from collections.abc import Sequence
from typing import Any, Final, Literal

import msgspec

from pipeline.providers.openai.config import (
    Modality,
    Protocol,
    RealtimeSessionConfig,
    TurnDetection,
)

Event = dict[str, Any]
PcmBytes = bytes | bytearray | memoryview

# A per-process prefix keeps ids unique across stage workers; the counter keeps them cheap.
_ID_PREFIX = f"vp_{secrets.token_hex(4)}_"
_ID_COUNTER = itertools.count(1)


def new_event_id() -> str:
    """A client event id, unique within this process and very likely across processes."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):x}"


def pcm_to_base64(pcm: PcmBytes) -> str:
    """Base64 of 16-bit little-endian mono PCM; rejects empty or odd-length buffers."""
    view = memoryview(pcm)
    if view.nbytes == 0 or view.nbytes % 2:
        raise ValueError(
            f"pcm must be a non-empty whole number of int16 samples, got {view.nbytes} bytes"
        )
    return base64.b64encode(view).decode("ascii")


# -- session --------------------------------------------------------------------------


def _turn_detection(td: TurnDetection | None) -> dict[str, Any] | None:
    if td is None:
        return None
    out: dict[str, Any] = {
        "type": td.type,
        "create_response": td.create_response,
        "interrupt_response": td.interrupt_response,
    }
    if td.type == "server_vad":
        out["threshold"] = td.threshold
        out["prefix_padding_ms"] = td.prefix_padding_ms
        out["silence_duration_ms"] = td.silence_duration_ms
    else:
        out["eagerness"] = td.eagerness
    return out


def _tools(config: RealtimeSessionConfig) -> list[dict[str, Any]]:
    return [{**tool, "type": "function"} for tool in config.tools]


def _ga_session(config: RealtimeSessionConfig) -> dict[str, Any]:
    transcription = (
        None
        if config.input_transcription_model is None
        else {"model": config.input_transcription_model}
    )
    tool_choice: Any = config.tool_choice
    if tool_choice not in ("auto", "none", "required"):
        tool_choice = {"type": "function", "name": tool_choice}
    return {
        "type": "realtime",
        "instructions": config.instructions,
        "output_modalities": list(config.output_modalities),
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": config.input_sample_rate},
                "transcription": transcription,
                "turn_detection": _turn_detection(config.turn_detection),
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": config.output_sample_rate},
                "voice": config.voice,
            },
        },
        "tools": _tools(config),
        "tool_choice": tool_choice,
        "max_output_tokens": config.max_response_output_tokens,
    }


def _beta_modalities(modalities: Sequence[Modality]) -> list[str]:
    # Beta wants text alongside audio (["text", "audio"]); ["audio"] alone is refused.
    return ["text", "audio"] if "audio" in modalities else ["text"]


def _beta_session(config: RealtimeSessionConfig) -> dict[str, Any]:
    transcription = (
        None
        if config.input_transcription_model is None
        else {"model": config.input_transcription_model}
    )
    session: dict[str, Any] = {
        "modalities": _beta_modalities(config.output_modalities),
        "instructions": config.instructions,
        "voice": config.voice,
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "input_audio_transcription": transcription,
        "turn_detection": _turn_detection(config.turn_detection),
        "tools": _tools(config),
        "tool_choice": config.tool_choice,
        "max_response_output_tokens": config.max_response_output_tokens,
    }
    if config.temperature is not None:
        session["temperature"] = config.temperature
    return session


def session_update(config: RealtimeSessionConfig) -> Event:
    """``session.update`` in the shape of ``config.protocol``.

    The model is not sent: it is chosen by the URL and cannot change within a session.
    """
    session = _ga_session(config) if config.protocol == "ga" else _beta_session(config)
    return {"type": "session.update", "event_id": new_event_id(), "session": session}


# -- input audio buffer ---------------------------------------------------------------


def input_audio_append(pcm: PcmBytes) -> Event:
    """``input_audio_buffer.append`` with the base64 of pcm16 bytes."""
    return {
        "type": "input_audio_buffer.append",
        "event_id": new_event_id(),
        "audio": pcm_to_base64(pcm),
    }


class _InputAudioAppend(msgspec.Struct, tag_field="type", tag="input_audio_buffer.append"):
    """``input_audio_append``'s event as a struct: msgspec writes ``audio``'s base64 in C
    (the hot path of every session: ten of these a second)."""

    event_id: str
    audio: bytes


_JSON: Final = msgspec.json.Encoder()


def input_audio_append_json(pcm: bytes) -> bytes:
    """``input_audio_append(pcm)`` encoded as JSON text, without the dict."""
    if not pcm or len(pcm) % 2:
        raise ValueError(f"pcm must be a non-empty whole number of int16 samples, "
                         f"got {len(pcm)} bytes")
    return _JSON.encode(_InputAudioAppend(new_event_id(), pcm))


def input_audio_commit() -> Event:
    """``input_audio_buffer.commit``: turn the buffered audio into a user item (manual turns)."""
    return {"type": "input_audio_buffer.commit", "event_id": new_event_id()}


def input_audio_clear() -> Event:
    """``input_audio_buffer.clear``."""
    return {"type": "input_audio_buffer.clear", "event_id": new_event_id()}


# -- conversation items ---------------------------------------------------------------


def message_item(
    role: str, content: list[dict[str, Any]], item_id: str | None = None
) -> dict[str, Any]:
    """A message item holding ``content`` parts as they are."""
    item: dict[str, Any] = {"type": "message", "role": role, "content": content}
    if item_id is not None:
        item["id"] = item_id
    return item


def user_text_item(text: str, *, item_id: str | None = None) -> dict[str, Any]:
    """A user message holding text."""
    return message_item("user", [{"type": "input_text", "text": text}], item_id)


def user_audio_item(
    pcm: PcmBytes, *, transcript: str | None = None, item_id: str | None = None
) -> dict[str, Any]:
    """A user message holding pcm16 audio (at the session's input rate)."""
    part: dict[str, Any] = {"type": "input_audio", "audio": pcm_to_base64(pcm)}
    if transcript is not None:
        part["transcript"] = transcript
    return message_item("user", [part], item_id)


def assistant_text_item(
    text: str, *, item_id: str | None = None, protocol: Protocol = "ga"
) -> dict[str, Any]:
    """An assistant message holding text (the API cannot take assistant audio items)."""
    part_type = "output_text" if protocol == "ga" else "text"
    return message_item("assistant", [{"type": part_type, "text": text}], item_id)


def system_text_item(text: str, *, item_id: str | None = None) -> dict[str, Any]:
    """A system message holding text."""
    return message_item("system", [{"type": "input_text", "text": text}], item_id)


def function_call_item(
    call_id: str, name: str, arguments: str, *, item_id: str | None = None
) -> dict[str, Any]:
    """A function call made by the model (used to replay chat context)."""
    item: dict[str, Any] = {
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }
    if item_id is not None:
        item["id"] = item_id
    return item


def function_call_output_item(
    call_id: str, output: str, *, item_id: str | None = None
) -> dict[str, Any]:
    """The result of a function call, answering ``call_id``."""
    item: dict[str, Any] = {"type": "function_call_output", "call_id": call_id, "output": output}
    if item_id is not None:
        item["id"] = item_id
    return item


def item_create(item: dict[str, Any], *, previous_item_id: str | None = None) -> Event:
    """``conversation.item.create``; ``previous_item_id="root"`` inserts at the start."""
    event: Event = {"type": "conversation.item.create", "event_id": new_event_id(), "item": item}
    if previous_item_id is not None:
        event["previous_item_id"] = previous_item_id
    return event


def item_truncate(item_id: str, content_index: int, audio_end_ms: int) -> Event:
    """``conversation.item.truncate``: drop the assistant audio (and text) after a point."""
    if content_index < 0 or audio_end_ms < 0:
        raise ValueError(
            f"content_index and audio_end_ms must be >= 0, got {content_index}, {audio_end_ms}"
        )
    return {
        "type": "conversation.item.truncate",
        "event_id": new_event_id(),
        "item_id": item_id,
        "content_index": content_index,
        "audio_end_ms": audio_end_ms,
    }


def item_delete(item_id: str) -> Event:
    """``conversation.item.delete``."""
    return {"type": "conversation.item.delete", "event_id": new_event_id(), "item_id": item_id}


def item_retrieve(item_id: str) -> Event:
    """``conversation.item.retrieve``."""
    return {"type": "conversation.item.retrieve", "event_id": new_event_id(), "item_id": item_id}


# -- responses ------------------------------------------------------------------------


def response_create(
    *,
    instructions: str | None = None,
    output_modalities: Sequence[Modality] | None = None,
    conversation: Literal["auto", "none"] | None = None,
    metadata: dict[str, str] | None = None,
    protocol: Protocol = "ga",
) -> Event:
    """``response.create``; unset options fall back to the session's.

    ``conversation="none"`` makes an out-of-band response that is not added to the
    default conversation (``metadata`` tells such responses apart).
    """
    response: dict[str, Any] = {}
    if instructions is not None:
        response["instructions"] = instructions
    if output_modalities is not None:
        if protocol == "ga":
            response["output_modalities"] = list(output_modalities)
        else:
            response["modalities"] = _beta_modalities(output_modalities)
    if conversation is not None:
        response["conversation"] = conversation
    if metadata is not None:
        response["metadata"] = dict(metadata)
    event: Event = {"type": "response.create", "event_id": new_event_id()}
    if response:
        event["response"] = response
    return event


def response_cancel(response_id: str | None = None) -> Event:
    """``response.cancel`` of ``response_id``, or of the default conversation's response."""
    event: Event = {"type": "response.cancel", "event_id": new_event_id()}
    if response_id is not None:
        event["response_id"] = response_id
    return event
