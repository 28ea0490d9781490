"""Validation of a protocol trace (`VOXPIPE_PROTOCOL_TRACE`) against the `openai` types.

`tests/conftest.py` points the trace at a temporary directory for the whole
run; every server event the offline model server emitted and every client
event voxpipe's Realtime client sent (in this process or any child, e.g. the
model stage) is then checked here against the `openai` package's event
unions, beta events against `openai.types.beta.realtime`. The SDK's models
accept unknown fields, so a misspelt field would pass; fields outside the
schema are reported too (bar the few the real API sends beyond the SDK's).

The SDK's unions carry their discriminator in openai's own `PropertyInfo`,
which pydantic ignores (it would try every member and report errors for all of
them); re-wrapping them with `Field(discriminator="type")` validates against
the one member named by `type`, fast and with a precise error.
"""

from __future__ import annotations

import json
import typing
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union

import pydantic
from openai.types.beta.realtime import realtime_client_event as beta_client
from openai.types.beta.realtime import realtime_server_event as beta_server
from openai.types.realtime import realtime_client_event as ga_client
from openai.types.realtime import realtime_server_event as ga_server

MAX_LISTED = 30
# Fields the real API sends beyond the SDK's session schemas.
_ALLOWED_EXTRAS = {"RealtimeSessionCreateRequest": {"id", "object"}, "Session": {"object"}}


def _discriminated(union: Any) -> pydantic.TypeAdapter[Any]:
    members = typing.get_args(typing.get_args(union)[0])
    return pydantic.TypeAdapter(
        Annotated[Union[members], pydantic.Field(discriminator="type")]  # noqa: UP007
    )


_ADAPTERS: dict[tuple[str, str], pydantic.TypeAdapter[Any]] = {
    ("server", "ga"): _discriminated(ga_server.RealtimeServerEvent),
    ("server", "beta"): _discriminated(beta_server.RealtimeServerEvent),
    ("client", "ga"): _discriminated(ga_client.RealtimeClientEvent),
    ("client", "beta"): _discriminated(beta_client.RealtimeClientEvent),
}


@dataclass
class TraceReport:
    """What a trace directory held and which events did not validate."""

    checked: Counter[str] = field(default_factory=Counter)
    """Events checked, by `side/dialect`."""
    invalid: list[str] = field(default_factory=list)

    def summary(self) -> str:
        head = ", ".join(f"{k}: {n}" for k, n in sorted(self.checked.items())) or "no events"
        listed = self.invalid[:MAX_LISTED]
        more = len(self.invalid) - len(listed)
        lines = [f"protocol trace: {head}; {len(self.invalid)} invalid", *listed]
        if more:
            lines.append(f"... and {more} more")
        return "\n".join(lines)


def _error_text(exc: pydantic.ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'][1:]) or '<event>'}: {err['msg']}"
        for err in exc.errors()[:3]
    )


def _extras(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, pydantic.BaseModel):
        allowed = _ALLOWED_EXTRAS.get(type(value).__name__, set())
        for key in sorted(set(value.model_extra or {}) - allowed):
            yield f"{path}.{key}"
        for name in type(value).model_fields:
            yield from _extras(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for i, x in enumerate(value):
            yield from _extras(x, f"{path}[{i}]")


def check_trace_dir(directory: Path) -> TraceReport:
    """Validate every `server-*.jsonl` / `client-*.jsonl` line under `directory`."""
    report = TraceReport()
    for path in sorted(directory.glob("*.jsonl")):
        side = path.name.split("-", 1)[0]
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            record = json.loads(line)
            dialect, event = record["dialect"], record["event"]
            adapter = _ADAPTERS[(side, dialect)]
            report.checked[f"{side}/{dialect}"] += 1
            etype = event.get("type") if isinstance(event, dict) else type(event).__name__
            where = f"{path.name}:{lineno} {side}/{dialect} {etype}"
            try:
                model = adapter.validate_python(event)
            except pydantic.ValidationError as exc:
                report.invalid.append(f"{where}: {_error_text(exc)}")
                continue
            extras = list(_extras(model, "<event>"))
            if extras:
                report.invalid.append(f"{where}: fields outside the schema: {extras}")
    return report
