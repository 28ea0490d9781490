"""livekit-plugins-openai 0.12's session option types, mapped onto voxpipe's neutral settings.

``ServerVadOptions``, ``SemanticVadOptions`` and ``InputTranscriptionOptions`` keep
0.12's names, fields and defaults (``realtime/realtime_model.py`` of the plugin), so
an agent written for livekit builds them unchanged; :func:`turn_detection` and
:func:`transcription_model` turn them into what ``SessionSettings`` carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from ipc.schema import Modality, TurnDetection


@dataclass
class ServerVadOptions:
    threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    create_response: bool = True


class SemanticVadEagerness(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    AUTO = "auto"


@dataclass
class SemanticVadOptions:
    eagerness: SemanticVadEagerness = SemanticVadEagerness.AUTO
    create_response: bool = True
    interrupt_response: bool = True


@dataclass
class InputTranscriptionOptions:
    model: str
    language: str | None = None
    prompt: str | None = None


DEFAULT_SERVER_VAD_OPTIONS = ServerVadOptions(
    threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500, create_response=True)
DEFAULT_INPUT_AUDIO_TRANSCRIPTION = InputTranscriptionOptions(model="whisper-1")

TurnDetectionOption = ServerVadOptions | SemanticVadOptions | TurnDetection | None


def turn_detection(opts: TurnDetectionOption) -> TurnDetection | None:
    """The neutral turn detection for 0.12's options (a ``TurnDetection`` passes as is)."""
    match opts:
        case None | TurnDetection():
            return opts
        case ServerVadOptions():
            return TurnDetection(threshold=opts.threshold,
                                 prefix_padding_ms=opts.prefix_padding_ms,
                                 silence_duration_ms=opts.silence_duration_ms,
                                 create_response=opts.create_response)
        case SemanticVadOptions():
            return TurnDetection(type="semantic_vad",
                                 eagerness=SemanticVadEagerness(opts.eagerness).value,
                                 create_response=opts.create_response,
                                 interrupt_response=opts.interrupt_response)
    raise TypeError("turn_detection must be ServerVadOptions, SemanticVadOptions or None, "
                    f"got {type(opts).__name__}")


def transcription_model(opts: InputTranscriptionOptions | None) -> str | None:
    """The user-transcription model (None: no user transcript)."""
    if opts is None:
        return None
    if not isinstance(opts, InputTranscriptionOptions):
        raise TypeError("input_audio_transcription must be InputTranscriptionOptions or None, "
                        f"got {type(opts).__name__}")
    return opts.model


def output_modalities(modalities: list[Literal["text", "audio"]]) -> tuple[Modality, ...]:
    """0.12's ``modalities`` as one output modality: ``["text", "audio"]`` (its default)
    is audio with its transcript, which is what ``("audio",)`` gives on every dialect."""
    if not modalities or any(m not in ("text", "audio") for m in modalities):
        raise ValueError(f"modalities must be drawn from 'text' and 'audio', got {modalities!r}")
    return ("audio",) if "audio" in modalities else ("text",)


def max_output_tokens(limit: int | Literal["inf"]) -> int | None:
    """0.12's ``max_response_output_tokens`` ("inf" or a count) as the neutral limit."""
    if limit == "inf":
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 4096:
        raise ValueError(
            f"max_response_output_tokens must be 'inf' or in 1..4096, got {limit!r}")
    return limit
