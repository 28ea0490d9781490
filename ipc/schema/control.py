"""Control messages (ROUTER/DEALER between the supervisor and each stage)."""

from __future__ import annotations

from typing import Final

import msgspec

from ipc.schema.commands import ModelCommand
from ipc.schema.events import SessionEvent
from ipc.schema.session import SessionConfig


class _Control(msgspec.Struct, frozen=True, gc=False, array_like=True, tag_field="t"):
    """Base of control messages (supervisor <-> stage)."""


class Hello(_Control, tag="hello", frozen=True):
    """A stage announcing itself (first message after every start)."""

    stage: str
    pid: int


class Ping(_Control, tag="ping", frozen=True):
    token: int
    sent_ns: int


class Pong(_Control, tag="pong", frozen=True):
    token: int
    sent_ns: int


class SessionStart(_Control, tag="start", frozen=True):
    config: SessionConfig
    resumed: bool = False  # replayed to a restarted stage: pick up mid-session


class SessionEnd(_Control, tag="end", frozen=True):
    session: str


class StatsRequest(_Control, tag="statsq", frozen=True):
    request_id: int
    # Counters without the latency samples: a reading cheap enough for a realtime
    # stage to answer every few seconds (a full reservoir is ~0.6 MB, ~30 ms to encode).
    counters_only: bool = False
    # Only these hops' latency samples (empty: every hop): admission control's reading
    # of playout's lateness, every second.
    hops: tuple[str, ...] = ()


class StatsReply(_Control, tag="stats", frozen=True):
    request_id: int
    stage: str
    pid: int
    counters: dict[str, int]
    latency_us: dict[str, list[int]]
    # Per live session: its own counters (playout: ``glitch_frames.<cause>``).
    sessions: dict[str, dict[str, int]] = {}


class Shutdown(_Control, tag="shutdown", frozen=True):
    """Stop gracefully: finish sessions' files, then exit 0."""


class ModelCommands(_Control, tag="mcmd", frozen=True):
    """Commands for a session's model connection, sent in order (agent -> model)."""

    session: str
    commands: list[ModelCommand]


class PlayoutInterrupt(_Control, tag="pint", frozen=True):
    """Stop the session's agent audio now (user code called ``interrupt()``)."""

    session: str
    reason: str
    item_id: str = ""  # the item being played, as the agent knows it (maybe not yet here)


class SessionNote(_Control, tag="note", frozen=True):
    """An event from the supervisor to place on the session timeline (events.jsonl).

    ``t_ms`` is its place on the timeline, stamped once by the supervisor so that every
    stage that gets the note (playout; the edge, which forwards it to a live caller)
    writes the same line; ``None``: the receiver stamps it on arrival."""

    session: str
    event: SessionEvent
    t_ms: float | None = None


class EdgeCandidate(_Control, tag="cand", frozen=True):
    """A trickled ICE candidate of a session's WebRTC peer (supervisor -> edge);
    ``candidate`` is the SDP ``a=candidate`` value, empty at the end of candidates."""

    session: str
    candidate: str
    sdp_mid: str | None
    sdp_mline_index: int | None


ControlMsg = (
    Hello
    | Ping
    | Pong
    | SessionStart
    | SessionEnd
    | StatsRequest
    | StatsReply
    | Shutdown
    | ModelCommands
    | PlayoutInterrupt
    | SessionNote
    | EdgeCandidate
)



control_encoder: Final = msgspec.msgpack.Encoder()
control_decoder: Final = msgspec.msgpack.Decoder(ControlMsg)
