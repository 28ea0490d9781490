"""The Gemini Live ``setup`` message (sent once per connection) from neutral settings,
and the API's capabilities.

What the neutral settings mean here: ``voice`` is a prebuilt voice ("Puck" ...),
``modalities`` the response modality (one of audio or text), ``turn_detection=None``
turns the server's activity detection off (the provider then marks the user's turns
with ``activityStart``/``activityEnd``), ``input_transcription_model`` only switches
the user transcript on (Gemini picks its own recogniser), and a resumption handle
resumes a session the server still holds.
"""

from __future__ import annotations

from typing import Any, Final

from ipc.schema import SessionSettings, ToolSpec
from pipeline.providers.base import Capabilities
from pipeline.providers.gemini.wire import Message

CAPABILITIES: Final = Capabilities(
    supports_truncate=False, input_audio_sample_rate=16000, output_sample_rate=24000)
"""The Live API's: no truncation of a reply, audio in at 16 kHz and out at 24 kHz."""

INPUT_RATE: Final = 16000
OUTPUT_RATE: Final = 24000
_MODALITIES: Final = {"audio": "AUDIO", "text": "TEXT"}


def model_path(name: str) -> str:
    """The API's resource name of a model ("models/gemini-...")."""
    return name if name.startswith(("models/", "projects/")) else f"models/{name}"


def _generation_config(s: SessionSettings) -> Message:
    if len(s.modalities) != 1:
        raise ValueError(f"Gemini Live answers in one modality, got {list(s.modalities)!r}")
    config: Message = {"responseModalities": [_MODALITIES[s.modalities[0]]]}
    if s.modalities[0] == "audio" and s.voice:
        config["speechConfig"] = {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": s.voice}}}
    sampling = s.sampling
    if sampling.candidate_count != 1:
        raise ValueError(
            f"Gemini Live streams one candidate, got candidate_count={sampling.candidate_count}")
    optional: dict[str, Any] = {
        "temperature": s.temperature, "maxOutputTokens": s.max_output_tokens,
        "topP": sampling.top_p, "topK": sampling.top_k,
        "presencePenalty": sampling.presence_penalty,
        "frequencyPenalty": sampling.frequency_penalty,
    }
    config.update({k: v for k, v in optional.items() if v is not None})
    return config


def _tools(tools: tuple[ToolSpec, ...]) -> list[Message]:
    declarations: list[Message] = []
    for tool in tools:
        decl: Message = {"name": tool.name, "description": tool.description}
        if tool.parameters.get("properties"):
            decl["parameters"] = tool.parameters
        declarations.append(decl)
    return [{"functionDeclarations": declarations}] if declarations else []


def _activity_detection(s: SessionSettings) -> Message:
    td = s.turn_detection
    if td is None:
        return {"automaticActivityDetection": {"disabled": True}}
    return {"automaticActivityDetection": {
        "disabled": False, "prefixPaddingMs": td.prefix_padding_ms,
        "silenceDurationMs": td.silence_duration_ms}}


def setup_message(settings: SessionSettings, *, model: str, handle: str | None = None
                  ) -> Message:
    """The ``setup`` message for ``settings``; ValueError when Gemini cannot take them.

    ``handle``: resume the server-side session it names (its context kept).
    """
    setup: Message = {
        "model": model_path(model),
        "generationConfig": _generation_config(settings),
        "realtimeInputConfig": _activity_detection(settings),
        "sessionResumption": {"handle": handle} if handle else {},
    }
    if settings.instructions:
        setup["systemInstruction"] = {"parts": [{"text": settings.instructions}]}
    tools = _tools(settings.tools)
    if tools:
        setup["tools"] = tools
    if settings.input_transcription_model is not None:
        setup["inputAudioTranscription"] = {}
    if settings.output_transcription and settings.modalities == ("audio",):
        setup["outputAudioTranscription"] = {}
    return {"setup": setup}
