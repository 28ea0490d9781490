"""The OpenAI session configuration (what ``session.update`` carries), and the API's
capabilities.

``RealtimeSessionConfig`` is the OpenAI-shaped, validated form of the neutral
:class:`~ipc.schema.SessionSettings` (see :mod:`translate`); decoding it re-runs the
same validation. ``TurnDetection`` is the neutral one from :mod:`ipc.schema`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from ipc.schema import TurnDetection
from pipeline.providers.base import Capabilities

__all__ = ["CAPABILITIES", "Modality", "Protocol", "RealtimeSessionConfig", "TurnDetection"]

Protocol = Literal["ga", "beta"]
Modality = Literal["audio", "text"]

_PROTOCOLS = ("ga", "beta")
_TOOL_CHOICE_MODES = ("auto", "none", "required")
_TOOL_KEYS = frozenset({"type", "name", "description", "parameters"})
# PCM rates a realtime server can plausibly take; the OpenAI API itself only takes 24 kHz
# (see CAPABILITIES), the bundled offline server may take others.
_SAMPLE_RATES = (8000, 16000, 24000, 48000)
# The API's bounds for a response's output-token limit.
_MAX_OUTPUT_TOKENS = 4096


CAPABILITIES = Capabilities(
    supports_truncate=True, input_audio_sample_rate=24000, output_sample_rate=24000
)
"""The OpenAI Realtime API's; the offline server speaks the protocol and matches them."""


class RealtimeSessionConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything ``session.update`` carries, validated on construction and on decode.

    ``tools`` are function-tool dicts ``{"type": "function", "name", "description",
    "parameters"}``; ``tool_choice`` is ``auto``/``none``/``required`` or a tool's name.
    ``temperature`` exists only in the beta protocol (the GA session has no such field).
    ``tools`` and ``output_modalities`` are stored as tuples, whatever sequence is given.
    """

    model: str = "gpt-realtime"
    instructions: str = ""
    voice: str = "alloy"
    input_sample_rate: int = 24000
    output_sample_rate: int = 24000
    turn_detection: TurnDetection | None = msgspec.field(default_factory=TurnDetection)
    input_transcription_model: str | None = None
    tools: Sequence[dict[str, Any]] = ()
    tool_choice: str = "auto"
    temperature: float | None = None
    max_response_output_tokens: int | Literal["inf"] = "inf"
    output_modalities: Sequence[Modality] = ("audio",)
    protocol: Protocol = "ga"

    def __post_init__(self) -> None:
        # Lists come from callers and from decoding; keep the stored value immutable.
        if not isinstance(self.tools, tuple):
            msgspec.structs.force_setattr(self, "tools", tuple(self.tools))
        if not isinstance(self.output_modalities, tuple):
            msgspec.structs.force_setattr(self, "output_modalities", tuple(self.output_modalities))
        self._check_identity()
        self._check_audio()
        self._check_tools()
        self._check_generation()

    def _check_identity(self) -> None:
        if self.protocol not in _PROTOCOLS:
            raise ValueError(
                f"RealtimeSessionConfig.protocol must be one of {_PROTOCOLS}, got {self.protocol!r}"
            )
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError(
                f"RealtimeSessionConfig.model must be a model name, got {self.model!r}"
            )
        if not isinstance(self.voice, str) or not self.voice.strip():
            raise ValueError(
                f"RealtimeSessionConfig.voice must be a voice name, got {self.voice!r}"
            )
        if not isinstance(self.instructions, str):
            raise ValueError("RealtimeSessionConfig.instructions must be a string")
        model = self.input_transcription_model
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise ValueError(
                "RealtimeSessionConfig.input_transcription_model must be a model name or None, "
                f"got {model!r}"
            )

    def _check_audio(self) -> None:
        for name in ("input_sample_rate", "output_sample_rate"):
            rate = getattr(self, name)
            if rate not in _SAMPLE_RATES:
                raise ValueError(
                    f"RealtimeSessionConfig.{name} must be one of {_SAMPLE_RATES} Hz, got {rate!r}"
                )
            # The beta format names ("pcm16") carry no rate: the server assumes 24 kHz.
            if self.protocol == "beta" and rate != 24000:
                raise ValueError(
                    f"RealtimeSessionConfig.{name} must be 24000 with protocol 'beta', got {rate!r}"
                )
        if self.turn_detection is not None and not isinstance(self.turn_detection, TurnDetection):
            raise ValueError("RealtimeSessionConfig.turn_detection must be a TurnDetection or None")

    def _check_tools(self) -> None:
        names: set[str] = set()
        for i, tool in enumerate(self.tools):
            where = f"RealtimeSessionConfig.tools[{i}]"
            if not isinstance(tool, dict):
                raise ValueError(f"{where} must be a dict, got {type(tool).__name__}")
            extra = set(tool) - _TOOL_KEYS
            if extra:
                raise ValueError(f"{where} has unknown keys {sorted(extra)}")
            if tool.get("type", "function") != "function":
                raise ValueError(f"{where}.type must be 'function', got {tool.get('type')!r}")
            name = tool.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError(f"{where}.name must be a non-empty string, got {name!r}")
            if name in names:
                raise ValueError(f"{where}.name {name!r} is used by another tool")
            names.add(name)
            if not isinstance(tool.get("description", ""), str):
                raise ValueError(f"{where}.description must be a string")
            if not isinstance(tool.get("parameters", {}), dict):
                raise ValueError(f"{where}.parameters must be a JSON-schema dict")
        choice = self.tool_choice
        if choice not in _TOOL_CHOICE_MODES and choice not in names:
            raise ValueError(
                f"RealtimeSessionConfig.tool_choice must be one of {_TOOL_CHOICE_MODES} or the "
                f"name of a tool, got {choice!r}"
            )
        if self.protocol == "beta" and choice not in _TOOL_CHOICE_MODES:
            # The beta session's tool_choice is a bare mode string; it cannot name a function.
            raise ValueError(
                f"RealtimeSessionConfig.tool_choice {choice!r}: "
                "forcing a function needs protocol 'ga'"
            )

    def _check_generation(self) -> None:
        mods = self.output_modalities
        if not mods or any(m not in ("audio", "text") for m in mods) or len(set(mods)) != len(mods):
            raise ValueError(
                "RealtimeSessionConfig.output_modalities must be ('audio',) or ('text',), "
                f"got {mods!r}"
            )
        if len(mods) != 1:
            # GA rejects ["audio", "text"]; audio always comes with its transcript anyway.
            raise ValueError(
                "RealtimeSessionConfig.output_modalities must hold one modality "
                f"(audio includes its transcript), got {mods!r}"
            )
        limit = self.max_response_output_tokens
        if limit != "inf" and (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= _MAX_OUTPUT_TOKENS
        ):
            raise ValueError(
                "RealtimeSessionConfig.max_response_output_tokens must be 'inf' or an int in "
                f"[1, {_MAX_OUTPUT_TOKENS}], got {limit!r}"
            )
        if self.temperature is not None:
            if self.protocol == "ga":
                raise ValueError(
                    "RealtimeSessionConfig.temperature is not part of the GA session; "
                    "leave it None or use protocol 'beta'"
                )
            if not 0.6 <= self.temperature <= 1.2:
                raise ValueError(
                    "RealtimeSessionConfig.temperature must be in [0.6, 1.2], "
                    f"got {self.temperature!r}"
                )
