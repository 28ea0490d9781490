"""How the fake Gemini server reads client JSON as the real one does (proto JSON rules):
either spelling of a field name, either base64 alphabet, the key in the query."""

from __future__ import annotations

import base64
from typing import Any

# Values that are the client's own data, not message fields.
_OPAQUE = {"args", "response", "properties"}


def camel(value: Any) -> Any:
    """Proto JSON field names, as the server reads them: ``realtime_input`` (the SDK's
    spelling) and ``realtimeInput`` are the same field."""
    if isinstance(value, list):
        return [camel(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, v in value.items():
        head, *rest = key.split("_")
        name = head + "".join(w[:1].upper() + w[1:] for w in rest)
        out[name] = v if name in _OPAQUE else camel(v)
    return out


def pcm_bytes(text: str) -> bytes:
    """Proto JSON bytes: standard or URL-safe base64, padded or not."""
    return base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_")
                                    + "=" * (-len(text) % 4))


def mime_rate(mime: str) -> int:
    for param in mime.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip() == "rate":
            return int(value)
    return 16000


def query_key(path: str) -> str | None:
    for pair in path.partition("?")[2].split("&"):
        name, _, value = pair.partition("=")
        if name == "key":
            return value
    return None
