"""The session's settable configuration and how `session.update` changes it.

Both request shapes are accepted on any connection: GA (`type: "realtime"`,
`audio.input.format`, `audio.input.turn_detection`, `audio.output.voice`,
`output_modalities`) and beta (`input_audio_format`, `turn_detection`,
`voice`, `modalities`). An update is applied to a copy and swapped in only if
every field is valid, so a rejected update changes nothing. Parameters the
API does not know are rejected with `unknown_parameter`, as the real API does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, cast

from . import wire
from .audio_format import FORMATS, GA_TYPES, AudioFormat
from .server_vad import VadParams
from .wire import ProtocolError

DEFAULT_INSTRUCTIONS = "You are voxpipe's offline voice assistant."
DEFAULT_MODEL = "gpt-realtime"

# semantic_vad is approximated by the energy VAD with a silence timeout per eagerness.
_EAGERNESS_SILENCE_MS = {"low": 1000, "medium": 500, "auto": 500, "high": 250}

_GA_KEYS = {
    "type", "audio", "output_modalities", "include", "prompt", "truncation", "max_output_tokens",
}
_BETA_KEYS = {
    "modalities", "input_audio_format", "output_audio_format", "turn_detection", "voice",
    "input_audio_transcription", "input_audio_noise_reduction", "temperature",
    "max_response_output_tokens", "speed", "client_secret",
}
_SHARED_KEYS = {"id", "object", "model", "instructions", "tools", "tool_choice", "tracing"}
_KNOWN_KEYS = _GA_KEYS | _BETA_KEYS | _SHARED_KEYS


@dataclass
class ServerTurnDetection:
    """Server-side turn detection settings (`server_vad` or `semantic_vad`)."""

    type: str = "server_vad"
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None
    eagerness: str = "auto"

    def vad_params(self) -> VadParams:
        """The knobs for `ServerVad`."""
        silence = self.silence_duration_ms
        if self.type == "semantic_vad":
            silence = _EAGERNESS_SILENCE_MS[self.eagerness]
        return VadParams(self.threshold, self.prefix_padding_ms, silence)


@dataclass
class ServerSessionConfig:
    """Everything `session.update` can set; rendered by `dialect`."""

    id: str
    model: str = DEFAULT_MODEL
    instructions: str = DEFAULT_INSTRUCTIONS
    voice: str | dict[str, Any] = "alloy"
    input_format: AudioFormat = "pcm16"
    output_format: AudioFormat = "pcm16"
    audio_output: bool = True
    turn_detection: ServerTurnDetection | None = field(default_factory=ServerTurnDetection)
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str | dict[str, Any] = "auto"
    max_output_tokens: int | str = "inf"
    temperature: float = 0.8
    speed: float = 1.0
    input_transcription: dict[str, Any] | None = None
    noise_reduction: dict[str, Any] | None = None
    tracing: str | dict[str, Any] | None = None

    def updated(self, raw: dict[str, Any]) -> ServerSessionConfig:
        """A copy with the `session` object of a `session.update` applied."""
        new = copy.deepcopy(self)
        for key in raw:
            if key not in _KNOWN_KEYS:
                raise ProtocolError(
                    "unknown_parameter", f"Unknown parameter: 'session.{key}'.", f"session.{key}"
                )
        new._apply_shared(raw)
        new._apply_ga(raw)
        new._apply_beta(raw)
        return new

    def _apply_shared(self, raw: dict[str, Any]) -> None:
        self.model = wire.opt_str(raw, "model", "session.") or self.model
        instructions = wire.opt_str(raw, "instructions", "session.")
        if instructions is not None:
            self.instructions = instructions
        tools = wire.opt_list(raw, "tools", "session.")
        if tools is not None:
            self.tools = [_parse_tool(t, f"session.tools[{i}]") for i, t in enumerate(tools)]
        choice = raw.get("tool_choice")
        if choice is not None:
            if not isinstance(choice, str | dict):
                raise ProtocolError("invalid_type", "Invalid type for 'session.tool_choice'.",
                                    "session.tool_choice")
            self.tool_choice = choice
        if "tracing" in raw:
            self.tracing = raw["tracing"]

    def _apply_ga(self, raw: dict[str, Any]) -> None:
        stype = wire.opt_str(raw, "type", "session.")
        if stype is not None:
            wire.one_of(stype, ("realtime",), "session.type")
        modalities = wire.opt_list(raw, "output_modalities", "session.")
        if modalities is not None:
            self.audio_output = _audio_in(modalities, "session.output_modalities", ga=True)
        tokens = raw.get("max_output_tokens")
        if tokens is not None:
            self.max_output_tokens = _parse_max_tokens(tokens, "session.max_output_tokens")
        audio = wire.opt_obj(raw, "audio", "session.")
        if audio is None:
            return
        audio_in = wire.opt_obj(audio, "input", "session.audio.") or {}
        fmt = wire.opt_obj(audio_in, "format", "session.audio.input.")
        if fmt is not None:
            self.input_format = _ga_format(fmt, "session.audio.input.format")
        if "turn_detection" in audio_in:
            self.turn_detection = _parse_turn_detection(
                audio_in["turn_detection"], "session.audio.input.turn_detection"
            )
        if "transcription" in audio_in:
            self.input_transcription = wire.opt_obj(audio_in, "transcription")
        if "noise_reduction" in audio_in:
            self.noise_reduction = wire.opt_obj(audio_in, "noise_reduction")
        audio_out = wire.opt_obj(audio, "output", "session.audio.") or {}
        fmt = wire.opt_obj(audio_out, "format", "session.audio.output.")
        if fmt is not None:
            self.output_format = _ga_format(fmt, "session.audio.output.format")
        self._apply_voice(audio_out, "session.audio.output.")
        speed = wire.opt_float(audio_out, "speed", "session.audio.output.")
        if speed is not None:
            self.speed = speed

    def _apply_beta(self, raw: dict[str, Any]) -> None:
        modalities = wire.opt_list(raw, "modalities", "session.")
        if modalities is not None:
            self.audio_output = _audio_in(modalities, "session.modalities", ga=False)
        fmt = wire.opt_str(raw, "input_audio_format", "session.")
        if fmt is not None:
            self.input_format = _beta_format(fmt, "session.input_audio_format")
        fmt = wire.opt_str(raw, "output_audio_format", "session.")
        if fmt is not None:
            self.output_format = _beta_format(fmt, "session.output_audio_format")
        if "turn_detection" in raw:
            self.turn_detection = _parse_turn_detection(
                raw["turn_detection"], "session.turn_detection"
            )
        self._apply_voice(raw, "session.")
        temperature = wire.opt_float(raw, "temperature", "session.")
        if temperature is not None:
            self.temperature = temperature
        speed = wire.opt_float(raw, "speed", "session.")
        if speed is not None:
            self.speed = speed
        tokens = raw.get("max_response_output_tokens")
        if tokens is not None:
            self.max_output_tokens = _parse_max_tokens(
                tokens, "session.max_response_output_tokens"
            )
        if "input_audio_transcription" in raw:
            self.input_transcription = wire.opt_obj(raw, "input_audio_transcription")
        if "input_audio_noise_reduction" in raw:
            self.noise_reduction = wire.opt_obj(raw, "input_audio_noise_reduction")

    def _apply_voice(self, obj: dict[str, Any], where: str) -> None:
        voice = obj.get("voice")
        if voice is None:
            return
        if isinstance(voice, dict) and isinstance(voice.get("id"), str):
            self.voice = {"id": voice["id"]}
        elif isinstance(voice, str):
            self.voice = voice
        else:
            raise ProtocolError(
                "invalid_type", f"Invalid type for '{where}voice'.", f"{where}voice"
            )


def _audio_in(modalities: list[Any], param: str, *, ga: bool) -> bool:
    for m in modalities:
        if not isinstance(m, str):
            raise ProtocolError("invalid_type", f"Invalid type for '{param}'.", param)
        wire.one_of(m, ("text", "audio"), param)
    if not modalities or (ga and len(set(modalities)) > 1):
        raise ProtocolError(
            "invalid_value",
            f"Invalid '{param}': use ['audio'] or ['text'].",
            param,
        )
    return "audio" in modalities


def _beta_format(name: str, param: str) -> AudioFormat:
    return cast(AudioFormat, wire.one_of(name, FORMATS, param))


def _ga_format(fmt: dict[str, Any], param: str) -> AudioFormat:
    ftype = wire.opt_str(fmt, "type", f"{param}.") or "audio/pcm"
    wire.one_of(ftype, tuple(GA_TYPES), f"{param}.type")
    rate = wire.opt_int(fmt, "rate", f"{param}.")
    # G.711 is 8 kHz by definition; only pcm names a rate (and only 24 kHz is served).
    if rate is not None and (ftype != "audio/pcm" or rate != wire.SAMPLE_RATE):
        raise ProtocolError(
            "invalid_value", f"Invalid value: {rate}. Supported values are: 24000.",
            f"{param}.rate",
        )
    return GA_TYPES[ftype]


def _parse_max_tokens(value: Any, param: str) -> int | str:
    if value == "inf":
        return "inf"
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
        raise ProtocolError(
            "invalid_value", f"Invalid '{param}': an integer from 1 to 4096 or 'inf'.", param
        )
    return value


def _parse_tool(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ProtocolError("invalid_type", f"Invalid type for '{where}'.", where)
    wire.one_of(raw.get("type") or "function", ("function",), f"{where}.type")
    wire.req_str(raw, "name", f"{where}.")
    wire.opt_str(raw, "description", f"{where}.")
    return {
        "type": "function",
        "name": raw["name"],
        "description": raw.get("description"),
        "parameters": raw.get("parameters"),
    }


def _parse_turn_detection(raw: Any, where: str) -> ServerTurnDetection | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ProtocolError("invalid_type", f"Invalid type for '{where}'.", where)
    p = f"{where}."
    td = ServerTurnDetection(
        type=wire.one_of(
            wire.opt_str(raw, "type", p) or "server_vad", ("server_vad", "semantic_vad"), p + "type"
        )
    )
    threshold = wire.opt_float(raw, "threshold", p)
    if threshold is not None:
        if not 0.0 <= threshold <= 1.0:
            raise ProtocolError("invalid_value", f"Invalid '{p}threshold': 0.0 to 1.0.",
                                p + "threshold")
        td.threshold = threshold
    for name in ("prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
        value = wire.opt_int(raw, name, p)
        if value is not None:
            if not 0 <= value <= 60_000:
                raise ProtocolError("invalid_value", f"Invalid '{p}{name}': 0 to 60000.", p + name)
            setattr(td, name, value)
    for name in ("create_response", "interrupt_response"):
        flag = wire.opt_bool(raw, name, p)
        if flag is not None:
            setattr(td, name, flag)
    eagerness = wire.opt_str(raw, "eagerness", p)
    if eagerness is not None:
        td.eagerness = wire.one_of(eagerness, tuple(_EAGERNESS_SILENCE_MS), p + "eagerness")
    return td
