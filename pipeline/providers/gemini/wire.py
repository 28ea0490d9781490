"""The Gemini Live (``BidiGenerateContent``) wire format: client messages and server messages.

Client messages are built as plain dicts (JSON objects with the API's camelCase keys);
server messages decode into the typed structs below straight from the frame bytes
(msgspec: ``inlineData.data`` arrives base64 and decodes to ``bytes``). Unknown fields
are ignored, as the API adds them.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import msgspec

Message = dict[str, Any]

# The Live API's inline audio: 16-bit little-endian mono PCM, its rate in the MIME type.
PCM_MIME = "audio/pcm;rate={rate}"


# -- client messages -----------------------------------------------------------------


def realtime_audio(pcm: bytes, rate: int) -> Message:
    """A chunk of the user's audio (``realtimeInput.audio``)."""
    return {"realtimeInput": {"audio": {"data": base64.b64encode(pcm).decode("ascii"),
                                        "mimeType": PCM_MIME.format(rate=rate)}}}


def activity(start: bool) -> Message:
    """The user's turn starts or ends (manual activity detection only)."""
    return {"realtimeInput": {"activityStart" if start else "activityEnd": {}}}


def client_content(turns: list[Message], *, turn_complete: bool) -> Message:
    """Turns added to the conversation; ``turn_complete`` asks the model to answer."""
    body: Message = {"turnComplete": turn_complete}
    if turns:
        body["turns"] = turns
    return {"clientContent": body}


def tool_response(responses: list[Message]) -> Message:
    """Answers to the model's function calls."""
    return {"toolResponse": {"functionResponses": responses}}


def function_response(call_id: str, name: str, output: str) -> Message:
    """One function's answer, as livekit's plugin wraps it (``{"result": ...}``)."""
    return {"id": call_id, "name": name, "response": {"result": output}}


# -- server messages -----------------------------------------------------------------


class _Wire(msgspec.Struct, frozen=True, rename="camel"):
    pass


class Blob(_Wire, frozen=True):
    mime_type: str = ""
    data: bytes = b""


class Part(_Wire, frozen=True):
    text: str | None = None
    inline_data: Blob | None = None
    thought: bool = False


class Content(_Wire, frozen=True):
    role: str | None = None
    parts: list[Part] = msgspec.field(default_factory=list)


class Transcription(_Wire, frozen=True):
    text: str = ""


class ServerContent(_Wire, frozen=True):
    model_turn: Content | None = None
    turn_complete: bool = False
    generation_complete: bool = False
    interrupted: bool = False
    input_transcription: Transcription | None = None
    output_transcription: Transcription | None = None


class FunctionCall(_Wire, frozen=True):
    name: str
    id: str = ""
    args: dict[str, Any] = msgspec.field(default_factory=dict)


class ToolCall(_Wire, frozen=True):
    function_calls: list[FunctionCall] = msgspec.field(default_factory=list)


class ToolCallCancellation(_Wire, frozen=True):
    ids: list[str] = msgspec.field(default_factory=list)


class UsageMetadata(_Wire, frozen=True):
    prompt_token_count: int | None = None
    response_token_count: int | None = None
    total_token_count: int | None = None


class GoAway(_Wire, frozen=True):
    time_left: str | None = None  # a protobuf Duration in JSON: "12.5s"


class SessionResumptionUpdate(_Wire, frozen=True):
    new_handle: str | None = None
    resumable: bool = False


class ServerMessage(_Wire, frozen=True):
    setup_complete: dict[str, Any] | None = None
    server_content: ServerContent | None = None
    tool_call: ToolCall | None = None
    tool_call_cancellation: ToolCallCancellation | None = None
    usage_metadata: UsageMetadata | None = None
    go_away: GoAway | None = None
    session_resumption_update: SessionResumptionUpdate | None = None


_DECODER = msgspec.json.Decoder(ServerMessage)
_DURATION = re.compile(r"(\d+(?:\.\d*)?)s")


def parse_server_message(raw: bytes | str) -> ServerMessage:
    """One server frame; raises ``msgspec.ValidationError``/``DecodeError`` when bad."""
    return _DECODER.decode(raw)


def duration_s(text: str | None) -> float | None:
    """Seconds of a JSON protobuf Duration ("12.5s"); None when absent or malformed."""
    if text is None:
        return None
    m = _DURATION.fullmatch(text.strip())
    return float(m.group(1)) if m else None
