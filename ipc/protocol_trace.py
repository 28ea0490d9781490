"""Protocol trace: every Realtime event a voxpipe process sends, appended to a file.

Set `VOXPIPE_PROTOCOL_TRACE=<dir>` and the offline model server writes each
server event it emits to `<dir>/server-<pid>.jsonl`, and voxpipe's Realtime
client each client event it sends to `<dir>/client-<pid>.jsonl`; the test suite
validates both against the `openai` package's event types. One line per event:
`{"dialect": "ga"|"beta", "event": {...}}`. Long base64 `audio`/`delta` strings
are replaced by a short valid base64 string, so a trace stays small.

Unset, it costs one environment lookup per connection. Each line is one
`write(2)` on an `O_APPEND` file, so processes and tasks never interleave lines.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import msgspec

TRACE_ENV = "VOXPIPE_PROTOCOL_TRACE"
Side = Literal["server", "client"]
Dialect = Literal["ga", "beta"]

# Strings under these keys longer than this are base64 audio (or long text,
# which is as valid replaced).
_AUDIO_KEYS = frozenset({"audio", "delta"})
_MAX_KEPT_CHARS = 64
_SHORT_BASE64 = "AAAA"

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()
_open_traces: dict[tuple[str, Side, int], ProtocolTrace] = {}


class ProtocolTrace:
    """One process's trace file for one side."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def record(self, event: dict[str, Any], dialect: Dialect) -> None:
        """Append `event` (audio strings shortened in a copy)."""
        line = _encoder.encode({"dialect": dialect, "event": _shortened(event)}) + b"\n"
        os.write(self._fd, line)

    def record_json(self, raw: bytes | str, dialect: Dialect) -> None:
        """Append an event given as JSON text; non-object JSON is recorded as is."""
        event = _decoder.decode(raw)
        line = _encoder.encode({"dialect": dialect, "event": _shortened(event)}) + b"\n"
        os.write(self._fd, line)


def open_trace(side: Side) -> ProtocolTrace | None:
    """This process's trace for `side` if `VOXPIPE_PROTOCOL_TRACE` is set, else None."""
    directory = os.environ.get(TRACE_ENV)
    if not directory:
        return None
    key = (directory, side, os.getpid())  # a forked child writes its own file
    trace = _open_traces.get(key)
    if trace is None:
        os.makedirs(directory, exist_ok=True)
        trace = ProtocolTrace(os.path.join(directory, f"{side}-{os.getpid()}.jsonl"))
        _open_traces[key] = trace
    return trace


def _shortened(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _SHORT_BASE64
            if k in _AUDIO_KEYS and isinstance(v, str) and len(v) > _MAX_KEPT_CHARS
            else _shortened(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_shortened(v) for v in value]
    return value
