"""Typed session events: every kind crosses each carrier (bus, data hop, control) and
becomes today's events.jsonl line; and no kind is spelled outside ipc/schema/events.py."""

from __future__ import annotations

import ast
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest

from ipc.schema import (
    AgentStoppedSpeaking,
    InputEnded,
    ModelConnected,
    SessionError,
    SessionEvent,
    SessionNote,
    StageEvent,
    StreamEvent,
    TokenDetails,
    UserTranscript,
    control_decoder,
    control_encoder,
    data_decoder,
    data_encoder,
    event_decoder,
    event_encoder,
    event_kind,
    record_line,
)
from ipc.sockets import decode_event
from ipc.stats import StageStats

ROOT = Path(__file__).resolve().parents[2]
EVENT_TYPES: tuple[type[SessionEvent], ...] = typing.get_args(SessionEvent)
TAGS = frozenset(str(t.__struct_config__.tag) for t in EVENT_TYPES)

# The same words in other vocabularies, each named with the place it is allowed:
# the OpenAI Realtime wire protocol ("error" events, "function_call" items, the
# "transcription" session field) in the provider and the offline server that speaks it,
EVENT_WORDS_OF_THE_PROVIDER_PROTOCOL = {
    "pipeline/providers/openai/": {"error", "function_call", "transcription"},
    "pipeline/model_server/": {"error", "function_call", "transcription"},
    # and a failed tool's JSON output, {"error": ...}, as the model reads it,
    "pipeline/agents/realtime/function_calls.py": {"error"},
    # and an HTTP refusal's JSON body, {"error": ...}, as pipecat's clients read it
    # (and /twilio's, the same shape),
    "pipeline/serve/app.py": {"error"},
    "pipeline/serve/twilio.py": {"error"},
    # and Janus's HTTP API, whose failed requests answer {"janus": "error", "error": ...}.
    "pipeline/transports/janus/": {"error"},
}
# The agent API's own event names (livekit-agents': "user_started_speaking", "error" ...
# on MultimodalAgent and RealtimeSession) are EventEmitter names: the first argument
# of .emit/.on/.off/.once, or a Literal of them.
EMITTER_METHODS = frozenset({"emit", "on", "off", "once"})


def _example(cls: type[SessionEvent]) -> SessionEvent:
    """An instance of ``cls`` with a plausible value in every field."""
    values: dict[Any, Any] = {int: 7, float: 1.5, str: "x", bool: True, dict: {"k": "v"},
                              TokenDetails: TokenDetails(input_text=3, output_audio=4)}
    fields: dict[str, Any] = {}
    for f in msgspec.structs.fields(cls):
        base = typing.get_origin(f.type) or f.type
        if base in (typing.Union, type(int | None)):
            base = typing.get_args(f.type)[0]
        fields[f.name] = values[base]
    return cls(**fields)


def test_every_kind_has_its_own_tag() -> None:
    assert len(TAGS) == len(EVENT_TYPES) >= 30
    assert {event_kind(_example(t)) for t in EVENT_TYPES} == TAGS


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_every_event_crosses_every_carrier(cls: type[SessionEvent]) -> None:
    event = _example(cls)
    bus = StageEvent("s1", "playout", 9, event, 12.5, "model")
    assert event_decoder.decode(event_encoder.encode(bus)) == bus
    hop = StreamEvent("s1", event, 5, publish=False)
    assert data_decoder.decode(data_encoder.encode(hop)) == hop
    note = SessionNote("s1", event)
    assert control_decoder.decode(control_encoder.encode(note)) == note


def test_the_record_line_is_todays_format() -> None:
    stopped = AgentStoppedSpeaking("i1", True, 120.0, 480.0, 2880, "Hello...")
    assert record_line("s1", stopped, 2500.5, "playout") == {
        "t_ms": 2500.5, "session": "s1", "type": "agent_stopped_speaking",
        "origin": "playout", "item_id": "i1", "interrupted": True, "played_ms": 120.0,
        "received_ms": 480.0, "played_samples": 2880, "text": "Hello..."}
    assert list(record_line("s1", UserTranscript("u1", "hi", final=True, link="7.1"), 3.0,
                            "model")) == ["t_ms", "session", "type", "origin", "item_id",
                                          "text", "final", "link"]
    # A stage's own error has neither source nor link; the model link's has both.
    assert record_line("s1", SessionError(True, "no file"), 0.0, "playout") == {
        "t_ms": 0.0, "session": "s1", "type": "error", "origin": "playout", "fatal": True,
        "message": "no file"}
    assert record_line("s1", SessionError(False, "refused", "model", "7.2"), 0.0,
                       "model")["link"] == "7.2"


def test_an_event_that_does_not_decode_is_counted_and_dropped() -> None:
    good = event_encoder.encode(StageEvent("s1", "capture", 1, InputEnded(3)))
    unknown_kind = good.replace(b"input_ended", b"input_endex")
    bad_field = event_encoder.encode(StageEvent("s1", "model", 1, ModelConnected("u"))
                                     ).replace(b"\xa3url", b"\xa3uri")
    stats = StageStats()
    assert decode_event([good], stats) is not None
    assert decode_event([unknown_kind], stats) is None
    assert decode_event([bad_field], stats) is None
    assert stats.counters == {"events_dropped.decode": 2}


def _allowed(path: str, value: str, parents: list[ast.AST]) -> bool:
    if any(path.startswith(p) and value in words
           for p, words in EVENT_WORDS_OF_THE_PROVIDER_PROTOCOL.items()):
        return True
    node, parent = parents[-1], parents[-2] if len(parents) > 1 else None
    if (isinstance(parent, ast.Call) and parent.args and parent.args[0] is node
            and isinstance(parent.func, ast.Attribute) and parent.func.attr in EMITTER_METHODS):
        return True
    return any(isinstance(p, ast.Subscript) and isinstance(p.value, ast.Name)
               and p.value.id == "Literal" for p in parents)


def _kind_literals(path: str, source: str) -> list[str]:
    found: list[str] = []

    def walk(node: ast.AST, parents: list[ast.AST]) -> None:
        chain = [*parents, node]
        if (isinstance(node, ast.Constant) and node.value in TAGS
                and not _allowed(path, node.value, chain)):
            found.append(f"{path}:{node.lineno}: {node.value!r}")
        for child in ast.iter_child_nodes(node):
            walk(child, chain)

    walk(ast.parse(source), [])
    return found


def test_the_scan_finds_a_kind_compared_or_emitted() -> None:
    src = ('if ev.kind == "model_connected": pass\n'
           'stage.emit(sid, "input_ended", {})\n'
           'agent.emit("agent_started_speaking")\n'
           'Names = Literal["error"]\n')
    assert _kind_literals("pipeline/x.py", src) == [
        "pipeline/x.py:1: 'model_connected'", "pipeline/x.py:2: 'input_ended'"]


def test_no_kind_string_outside_the_events_module() -> None:
    found: list[str] = []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        found += _kind_literals(rel, path.read_text())
    assert found == []
