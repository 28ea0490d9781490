"""Neutral <-> OpenAI: model commands to client events, server events to provider events.

Pure functions, no I/O: :mod:`provider` puts them on the connection. The OpenAI-only
knowledge of the settings lives here (the GA session has no temperature, "no limit" is
``"inf"``, a function is forced by name only when tools exist).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, assert_never

from ipc.schema import (
    AudioPart,
    CancelResponse,
    ClearInput,
    CommitInput,
    ConversationItem,
    CreateItem,
    CreateResponse,
    DeleteItem,
    FunctionCallItem,
    FunctionOutputItem,
    MessageItem,
    ModelCommand,
    SessionSettings,
    TokenDetails,
    ToolResult,
    ToolSpec,
    Truncate,
    UpdateSession,
)
from pipeline.providers import base as pe
from pipeline.providers.openai import client_events as ce
from pipeline.providers.openai import server_events as se
from pipeline.providers.openai.config import Protocol, RealtimeSessionConfig

Event = dict[str, Any]


def protocol_of(name: str) -> Protocol:
    """The dialect a model spec names ("" is GA)."""
    if name in ("", "ga"):
        return "ga"
    if name == "beta":
        return "beta"
    raise ValueError(f"the OpenAI provider speaks protocol 'ga' or 'beta', got {name!r}")


def _tool(tool: ToolSpec) -> dict[str, Any]:
    return {"type": "function", "name": tool.name, "description": tool.description,
            "parameters": tool.parameters}


def realtime_config(
    settings: SessionSettings, *, model: str, protocol: Protocol, input_rate: int,
    output_rate: int,
) -> RealtimeSessionConfig:
    """The validated OpenAI session config for neutral ``settings``; ValueError if the
    API cannot take them."""
    forced = settings.tool_choice not in ("auto", "none", "required")
    return RealtimeSessionConfig(
        model=model, instructions=settings.instructions, voice=settings.voice,
        input_sample_rate=input_rate, output_sample_rate=output_rate,
        turn_detection=settings.turn_detection,
        input_transcription_model=settings.input_transcription_model,
        tools=[_tool(t) for t in settings.tools],
        tool_choice="auto" if forced and not settings.tools else settings.tool_choice,
        temperature=settings.temperature if protocol == "beta" else None,
        max_response_output_tokens=(
            "inf" if settings.max_output_tokens is None else settings.max_output_tokens),
        output_modalities=settings.modalities, protocol=protocol,
    )  # fmt: skip


def with_settings(
    config: RealtimeSessionConfig, settings: SessionSettings
) -> RealtimeSessionConfig:
    """``config`` with new session settings (model, protocol and rates stay)."""
    return realtime_config(settings, model=config.model, protocol=config.protocol,
                           input_rate=config.input_sample_rate,
                           output_rate=config.output_sample_rate)


def _parts(msg: MessageItem, protocol: Protocol) -> list[dict[str, Any]]:
    text_type = "input_text"
    if msg.role == "assistant":
        text_type = "output_text" if protocol == "ga" else "text"
    parts: list[dict[str, Any]] = []
    for part in msg.content:
        if isinstance(part, AudioPart):
            audio: dict[str, Any] = {"type": "input_audio", "audio": ce.pcm_to_base64(part.pcm)}
            if part.transcript is not None:
                audio["transcript"] = part.transcript
            parts.append(audio)
        else:
            parts.append({"type": text_type, "text": part.text})
    return parts


def item(it: ConversationItem, protocol: Protocol) -> dict[str, Any]:
    """The OpenAI conversation item for a neutral one."""
    i = it.item_id
    if isinstance(it, MessageItem):
        return ce.message_item(it.role, _parts(it, protocol), i)
    if isinstance(it, FunctionCallItem):
        return ce.function_call_item(it.call_id, it.name, it.arguments, item_id=i)
    if isinstance(it, FunctionOutputItem):
        return ce.function_call_output_item(it.call_id, it.output, item_id=i)
    assert_never(it)


def client_event(cmd: ModelCommand, config: RealtimeSessionConfig) -> Event:
    """The client event for ``cmd`` on a session set up with ``config``."""
    protocol = config.protocol
    if isinstance(cmd, UpdateSession):
        return ce.session_update(with_settings(config, cmd.settings))
    if isinstance(cmd, CreateItem):
        return ce.item_create(item(cmd.item, protocol), previous_item_id=cmd.previous_item_id)
    if isinstance(cmd, DeleteItem):
        return ce.item_delete(cmd.item_id)
    if isinstance(cmd, CreateResponse):
        return ce.response_create(instructions=cmd.instructions,
                                  output_modalities=cmd.modalities, protocol=protocol)
    if isinstance(cmd, CancelResponse):
        return ce.response_cancel(cmd.response_id)
    if isinstance(cmd, CommitInput):
        return ce.input_audio_commit()
    if isinstance(cmd, ClearInput):
        return ce.input_audio_clear()
    if isinstance(cmd, ToolResult):
        return ce.item_create(ce.function_call_output_item(cmd.call_id, cmd.output))
    if isinstance(cmd, Truncate):
        return ce.item_truncate(cmd.item_id, cmd.content_index, cmd.audio_end_ms)
    assert_never(cmd)


# -- server events --------------------------------------------------------------------


def _function_call(e: se.OutputItemDone) -> pe.FunctionCall | None:
    # The done item, not the arguments event: the beta protocol names the function
    # only on the item.
    if e.item_type != "function_call":
        return None
    return pe.FunctionCall(item_id=e.item_id, call_id=e.call_id or "", name=e.name or "",
                           arguments=e.arguments or "", response_id=e.response_id)


def _status(e: se.ResponseDone) -> pe.ResponseDone:
    details = TokenDetails(
        input_text=e.input_text_tokens, input_audio=e.input_audio_tokens,
        input_cached=e.input_cached_tokens, input_cached_text=e.input_cached_text_tokens,
        input_cached_audio=e.input_cached_audio_tokens, output_text=e.output_text_tokens,
        output_audio=e.output_audio_tokens)
    reported = details != TokenDetails()
    return pe.ResponseDone(response_id=e.response_id, status=e.status,
                           status_reason=e.status_reason, input_tokens=e.input_tokens,
                           output_tokens=e.output_tokens, details=details if reported else None,
                           error_type=e.error_type, error_code=e.error_code,
                           error_message=e.error_message)


_NEUTRAL: dict[type[Any], Callable[[Any], pe.ProviderEvent | None]] = {
    se.AudioDelta: lambda e: pe.AudioDelta(e.item_id, e.content_index, e.pcm),
    se.TranscriptDelta: lambda e: pe.TranscriptDelta(e.item_id, e.content_index, e.delta),
    se.SpeechStarted: lambda e: pe.SpeechStarted(e.item_id, e.audio_start_ms),
    se.SpeechStopped: lambda e: pe.SpeechStopped(e.item_id, e.audio_end_ms),
    se.InputCommitted: lambda e: pe.InputCommitted(e.item_id),
    se.InputTranscriptDelta: lambda e: pe.InputTranscriptDelta(e.item_id, e.delta),
    se.InputTranscriptCompleted: lambda e: pe.InputTranscriptCompleted(e.item_id, e.transcript),
    se.InputTranscriptFailed: lambda e: pe.InputTranscriptFailed(e.item_id, e.message),
    se.TextDone: lambda e: pe.TextDone(e.item_id, e.text),
    se.OutputItemDone: _function_call,
    se.ResponseCreated: lambda e: pe.ResponseCreated(e.response_id),
    se.ContentPartAdded: lambda e: pe.ContentPartAdded(e.item_id, e.content_index, e.part_type),
    se.AudioDone: lambda e: pe.AudioDone(e.item_id, e.content_index),
    se.TranscriptDone: lambda e: pe.TranscriptDone(e.item_id, e.content_index, e.transcript),
    se.ResponseDone: _status,
    se.ItemAdded: lambda e: pe.ItemCreated(e.item_id),
    se.ItemDeleted: lambda e: pe.ItemDeleted(e.item_id),
    se.ServerError: lambda e: pe.ProviderError(e.message, e.code, e.event_id),
}


def neutral_event(e: se.ServerEvent) -> pe.ProviderEvent | None:
    """The provider event for an OpenAI server event; None for one the stage does not use."""
    convert = _NEUTRAL.get(type(e))
    return None if convert is None else convert(e)

