"""Wire vocabulary of the OpenAI Realtime protocol: ids, errors and field checks.

Client events arrive as decoded JSON (`dict[str, Any]`); the helpers here pull
typed fields out of them and raise `ProtocolError` naming the offending
parameter, which the session turns into an `error` event without closing the
connection (the real API behaves the same way).
"""

from __future__ import annotations

import binascii
import os
import random
from typing import Any

import msgspec

SAMPLE_RATE = 24_000
"""The server works in pcm16 mono at 24 kHz (`audio_format` converts G.711 at the edges)."""

BYTES_PER_SAMPLE = 2


_IDS = random.Random(os.urandom(16))
"""Ids must be unique, not secret: a seeded generator, not a system call per event."""
os.register_at_fork(after_in_child=lambda: _IDS.seed(os.urandom(16)))


def new_id(prefix: str) -> str:
    """A fresh id in the API's style: `event_…`, `item_…`, `resp_…`, `sess_…`."""
    # 22 hex characters: the real ids are 22 base62 characters after the prefix.
    return f"{prefix}_{_IDS.getrandbits(88):022x}"


def samples_to_ms(samples: int) -> int:
    """Whole milliseconds in `samples` at 24 kHz, rounded down."""
    return samples * 1000 // SAMPLE_RATE


def ms_to_samples(ms: int | float) -> int:
    """Samples at 24 kHz in `ms` milliseconds, rounded to the nearest sample."""
    return round(ms * SAMPLE_RATE / 1000)


class ProtocolError(Exception):
    """A client event the server refuses; becomes one `error` server event."""

    def __init__(
        self,
        code: str,
        message: str,
        param: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.error_type = error_type


_MISSING = object()


def _field(obj: dict[str, Any], name: str, where: str) -> Any:
    value = obj.get(name, _MISSING)
    if value is _MISSING:
        raise ProtocolError(
            "missing_required_parameter",
            f"Missing required parameter: '{where}{name}'.",
            f"{where}{name}",
        )
    return value


def _type_error(name: str, where: str, expected: str, value: Any) -> ProtocolError:
    return ProtocolError(
        "invalid_type",
        f"Invalid type for '{where}{name}': expected {expected}, "
        f"but got {type(value).__name__}.",
        f"{where}{name}",
    )


def req_str(obj: dict[str, Any], name: str, where: str = "") -> str:
    """Required string field `name` of `obj` (`where` prefixes the param path)."""
    value = _field(obj, name, where)
    if not isinstance(value, str):
        raise _type_error(name, where, "a string", value)
    return value


def opt_str(obj: dict[str, Any], name: str, where: str = "") -> str | None:
    """Optional string field: absent or null gives None."""
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _type_error(name, where, "a string", value)
    return value


def req_int(obj: dict[str, Any], name: str, where: str = "") -> int:
    """Required integer field (a JSON bool is not an integer here)."""
    value = _field(obj, name, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(name, where, "an integer", value)
    return value


def opt_int(obj: dict[str, Any], name: str, where: str = "") -> int | None:
    """Optional integer field."""
    if obj.get(name) is None:
        return None
    return req_int(obj, name, where)


def opt_float(obj: dict[str, Any], name: str, where: str = "") -> float | None:
    """Optional number field."""
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(name, where, "a number", value)
    return float(value)


def opt_bool(obj: dict[str, Any], name: str, where: str = "") -> bool | None:
    """Optional boolean field."""
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _type_error(name, where, "a boolean", value)
    return value


def req_obj(obj: dict[str, Any], name: str, where: str = "") -> dict[str, Any]:
    """Required JSON object field."""
    value = _field(obj, name, where)
    if not isinstance(value, dict):
        raise _type_error(name, where, "an object", value)
    return value


def opt_obj(obj: dict[str, Any], name: str, where: str = "") -> dict[str, Any] | None:
    """Optional JSON object field."""
    if obj.get(name) is None:
        return None
    return req_obj(obj, name, where)


def opt_list(obj: dict[str, Any], name: str, where: str = "") -> list[Any] | None:
    """Optional JSON array field."""
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, list):
        raise _type_error(name, where, "an array", value)
    return value


def one_of(value: str, allowed: tuple[str, ...], param: str) -> str:
    """`value` if it is one of `allowed`, else an `invalid_value` error."""
    if value not in allowed:
        choices = ", ".join(f"'{a}'" for a in allowed)
        raise ProtocolError(
            "invalid_value",
            f"Invalid value: '{value}'. Supported values are: {choices}.",
            param,
        )
    return value


_B64_DECODER = msgspec.json.Decoder(bytes)


def _strict_b64decode(b64: str) -> bytes:
    """Strict base64 (padded, no whitespace, nothing else) with msgspec's decoder, three
    times faster than ``binascii`` on an append's audio; ValueError when it is not."""
    if "\\" in b64 or '"' in b64:  # a JSON escape would be decoded, not refused
        raise ValueError("only base64 data is allowed")
    try:
        return _B64_DECODER.decode(b'"' + b64.encode("ascii") + b'"')
    except (msgspec.DecodeError, UnicodeEncodeError) as exc:
        raise ValueError("not strict base64 (bad character, length or padding)") from exc


def decode_pcm16(b64: str, param: str) -> bytes:
    """Strict base64 → pcm16 bytes; bad base64 or an odd byte count is an error."""
    return decode_audio(b64, param, BYTES_PER_SAMPLE)


def decode_audio(b64: str, param: str, frame_bytes: int) -> bytes:
    """Strict base64 → audio bytes, a whole number of `frame_bytes`-byte samples."""
    try:
        raw = _strict_b64decode(b64)
    except ValueError as exc:
        raise ProtocolError(
            "invalid_value", f"Invalid base64 audio in '{param}': {exc}.", param
        ) from exc
    if len(raw) % frame_bytes:
        raise ProtocolError(
            "invalid_value",
            f"Invalid audio in '{param}': {len(raw)} bytes is not a whole number of "
            f"{frame_bytes}-byte samples.",
            param,
        )
    return raw


def encode_b64(raw: bytes) -> str:
    """Base64 text of `raw`, no newline."""
    return binascii.b2a_base64(raw, newline=False).decode("ascii")
