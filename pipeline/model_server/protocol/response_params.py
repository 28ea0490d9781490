"""`response.create` parameters, and what a response is asked to answer.

A response answers the latest user message in its context: the conversation,
or the `input` list when the client gave one. Its `instructions` and
`tool_choice` replace the session's for this response only. Input token usage
is estimated from that context (instructions, texts, seconds of user audio).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import wire
from .conversation import Conversation, Item, item_not_found, parse_item
from .dialect import Usage, voice_name
from .reply_engine import ReplyRequest, UserTurn
from .session_config import ServerSessionConfig
from .token_estimate import INPUT_AUDIO_TOKENS_PER_S, audio_tokens, text_tokens
from .wire import ProtocolError


@dataclass
class ResponseParams:
    """One response's settings: session defaults overridden by `response.create`."""

    instructions: str
    audio_output: bool
    voice: str
    max_output_tokens: int | str
    in_conversation: bool = True
    metadata: dict[str, str] | None = None
    input: list[Item] | None = None
    response_instructions: str | None = None
    """`instructions` given in `response.create` (None: the session's apply)."""
    tool_choice: str | dict[str, Any] = "auto"


def parse_response_params(
    raw: dict[str, Any] | None, cfg: ServerSessionConfig, conversation: Conversation
) -> ResponseParams:
    """Session defaults with the `response` object of a `response.create` applied."""
    params = ResponseParams(
        instructions=cfg.instructions,
        audio_output=cfg.audio_output,
        voice=voice_name(cfg.voice),
        max_output_tokens=cfg.max_output_tokens,
        tool_choice=cfg.tool_choice,
    )
    if raw is None:
        return params
    where = "response."
    instructions = wire.opt_str(raw, "instructions", where)
    if instructions is not None:
        params.instructions = params.response_instructions = instructions
    choice = raw.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, str | dict):
            raise ProtocolError("invalid_type", f"Invalid type for '{where}tool_choice'.",
                                where + "tool_choice")
        if isinstance(choice, str):
            wire.one_of(choice, ("auto", "none", "required"), where + "tool_choice")
        params.tool_choice = choice
    for key in ("output_modalities", "modalities"):
        modalities = wire.opt_list(raw, key, where)
        if modalities is not None:
            for m in modalities:
                if not isinstance(m, str):
                    raise ProtocolError("invalid_type", f"Invalid type for '{where}{key}'.",
                                        where + key)
                wire.one_of(m, ("text", "audio"), where + key)
            params.audio_output = "audio" in modalities
    conv = wire.opt_str(raw, "conversation", where)
    if conv is not None:
        mode = wire.one_of(conv, ("auto", "none"), where + "conversation")
        params.in_conversation = mode == "auto"
    metadata = wire.opt_obj(raw, "metadata", where)
    if metadata is not None:
        if not all(isinstance(v, str) for v in metadata.values()):
            raise ProtocolError("invalid_type", "Invalid type for 'response.metadata': values "
                                "must be strings.", where + "metadata")
        params.metadata = {str(k): str(v) for k, v in metadata.items()}
    audio = wire.opt_obj(raw, "audio", where) or {}
    out = wire.opt_obj(audio, "output", where + "audio.") or {}
    voice = wire.opt_str(out, "voice", where + "audio.output.") or wire.opt_str(raw, "voice", where)
    if voice is not None:
        params.voice = voice
    for key in ("max_output_tokens", "max_response_output_tokens"):
        tokens = raw.get(key)
        if tokens is not None:
            if tokens != "inf" and (isinstance(tokens, bool) or not isinstance(tokens, int)):
                raise ProtocolError("invalid_type", f"Invalid type for '{where}{key}'.",
                                    where + key)
            params.max_output_tokens = tokens
    items = wire.opt_list(raw, "input", where)
    if items is not None:
        params.input = [_input_item(x, f"response.input[{i}]", conversation)
                        for i, x in enumerate(items)]
    return params


def _input_item(raw: Any, where: str, conversation: Conversation) -> Item:
    if not isinstance(raw, dict):
        raise ProtocolError("invalid_type", f"Invalid type for '{where}'.", where)
    if raw.get("type") == "item_reference":
        item_id = wire.req_str(raw, "id", f"{where}.")
        item = conversation.get(item_id)
        if item is None:
            raise item_not_found("response.create", item_id)
        return item
    return parse_item(raw, where)


def reply_request(
    params: ResponseParams, cfg: ServerSessionConfig, context: list[Item]
) -> ReplyRequest:
    """What the reply engine is asked: this response's context, instructions and tools."""
    td = cfg.turn_detection
    return ReplyRequest(
        turn=latest_user_turn(context),
        instructions=params.instructions,
        audio_output=params.audio_output,
        prefix_padding_ms=td.prefix_padding_ms if td is not None else 300,
        session_instructions=cfg.instructions,
        response_instructions=params.response_instructions,
        context=tuple(context),
        tools=tuple(cfg.tools),
        tool_choice=params.tool_choice,
    )


def latest_user_turn(context: list[Item]) -> UserTurn | None:
    """The newest user message in `context`, as the reply engine sees it."""
    for item in reversed(context):
        if item.type != "message" or item.role != "user":
            continue
        for part in item.content:
            if part.type == "input_audio" and part.audio is not None and part.audio.size:
                text = part.transcript if part.transcription is None else None
                return UserTurn(audio=part.audio, speech_span=part.speech_span,
                                text=text or None, transcript=part.transcription)
        text = item.text()
        if text:
            return UserTurn(text=text)
    return None


def input_usage(instructions: str, context: list[Item]) -> Usage:
    """Estimated input tokens for a response over `context`."""
    usage = Usage(input_text_tokens=text_tokens(instructions))
    for item in context:
        usage.input_text_tokens += text_tokens(item.text() + (item.arguments or "")
                                               + (item.output or ""))
        for part in item.content:
            if part.audio is not None:
                usage.input_audio_tokens += audio_tokens(part.audio.size,
                                                         INPUT_AUDIO_TOKENS_PER_S)
    return usage
