"""Socket factories and the receive boundary.

Topology (see docs/architecture.md): every stage binds one PULL inbox
(``<stage>.in``; each worker of a sharded stage its own, ``ipc/shards.py``) and PUSHes
to the inboxes it feeds; the supervisor binds the
control ROUTER and the event SUB; stages connect a DEALER (identity = stage
name) and a PUB. Downstream binds, upstream connects, so a restarted stage
re-binds the same path and its peers reconnect on their own.

Every receiver goes through ``decode_data``/``decode_control``: a frame that
does not decode or breaks a bound is counted under ``frames_dropped.<reason>``
and dropped; nothing here raises into a stage's loop.
"""

from __future__ import annotations

from typing import Final

import msgspec
import zmq

from ipc.schema import (
    MAX_FRAME_BYTES,
    MAX_SESSION_ID_LEN,
    AgentAudio,
    CaptureFrame,
    ControlMsg,
    DataMsg,
    EdgeFrame,
    StageEvent,
    TruncatePoint,
    UserAudio,
    control_decoder,
    data_decoder,
    event_decoder,
    event_encoder,
)
from ipc.stats import StageStats

# A data hop queues at most this many messages per peer. 10 ms frames from
# hundreds of sessions: 10k messages is ~0.25 s of 400 sessions, a bound on
# memory and on how stale audio can get behind a stalled consumer.
DATA_HWM: Final = 10_000
CONTROL_HWM: Final = 1_000
EVENT_HWM: Final = 100_000


def _common(sock: zmq.Socket[bytes]) -> None:
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)


def bind_pull(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> zmq.Socket[bytes]:
    """A stage's data inbox."""
    sock = ctx.socket(zmq.PULL)
    _common(sock)
    sock.setsockopt(zmq.RCVHWM, DATA_HWM)
    sock.bind(endpoint)
    return sock


def connect_push(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> zmq.Socket[bytes]:
    """An upstream end of a data hop. Sends are non-blocking (see ``send_data``)."""
    sock = ctx.socket(zmq.PUSH)
    _common(sock)
    sock.setsockopt(zmq.SNDHWM, DATA_HWM)
    sock.connect(endpoint)
    return sock


def bind_router(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> zmq.Socket[bytes]:
    sock = ctx.socket(zmq.ROUTER)
    _common(sock)
    sock.setsockopt(zmq.SNDHWM, CONTROL_HWM)
    sock.setsockopt(zmq.RCVHWM, CONTROL_HWM)
    # A restarted stage reuses its identity: hand the route to the new peer.
    sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
    sock.bind(endpoint)
    return sock


def connect_dealer(
    ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, identity: str
) -> zmq.Socket[bytes]:
    sock = ctx.socket(zmq.DEALER)
    _common(sock)
    sock.setsockopt(zmq.IDENTITY, identity.encode())
    sock.setsockopt(zmq.SNDHWM, CONTROL_HWM)
    sock.connect(endpoint)
    return sock


def bind_sub(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> zmq.Socket[bytes]:
    sock = ctx.socket(zmq.SUB)
    _common(sock)
    sock.setsockopt(zmq.RCVHWM, EVENT_HWM)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.bind(endpoint)
    return sock


def connect_pub(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> zmq.Socket[bytes]:
    sock = ctx.socket(zmq.PUB)
    _common(sock)
    sock.setsockopt(zmq.SNDHWM, EVENT_HWM)
    sock.connect(endpoint)
    return sock


def send_data(sock: zmq.Socket[bytes], payload: bytes, stats: StageStats, hop: str) -> bool:
    """Queue one data frame without ever blocking the hot loop.

    At HWM (a stalled or dead consumer) the frame is dropped and counted: stale
    audio is worth less than a loop that keeps serving every other session.
    """
    try:
        sock.send(payload, zmq.NOBLOCK)
    except zmq.Again:
        stats.count(f"send_dropped.{hop}")
        return False
    return True


def send_event(sock: zmq.Socket[bytes], ev: StageEvent, stats: StageStats) -> bool:
    """Publish one event on the bus without blocking; at HWM it is dropped and counted."""
    try:
        sock.send(event_encoder.encode(ev), zmq.NOBLOCK)
    except zmq.Again:
        stats.count("events_dropped.hwm")
        return False
    return True


def _check_data(msg: DataMsg) -> str | None:
    """Bounds the decoder cannot express; returns a drop reason or None."""
    if not msg.session or len(msg.session) > MAX_SESSION_ID_LEN:
        return "session_id"
    if isinstance(msg, CaptureFrame):
        if not 1 <= msg.channels <= 8 or not 8000 <= msg.sample_rate <= 192000:
            return "format"
        if len(msg.pcm) % (2 * msg.channels):
            return "pcm_length"
    elif isinstance(msg, UserAudio | AgentAudio | EdgeFrame):
        if not 8000 <= msg.sample_rate <= 192000:
            return "format"
        if len(msg.pcm) % 2:
            return "pcm_length"
    elif isinstance(msg, TruncatePoint) and (msg.played_samples < 0 or msg.received_samples < 0):
        return "bounds"
    return None


def decode_data(parts: list[bytes], stats: StageStats) -> DataMsg | None:
    """Decode one received data message, or count why it was dropped."""
    if len(parts) != 1:
        stats.count("frames_dropped.parts")
        return None
    try:
        msg: DataMsg = data_decoder.decode(parts[0])
    except (msgspec.DecodeError, ValueError):  # msgspec raises UnicodeDecodeError on bad utf-8
        stats.count("frames_dropped.decode")
        return None
    reason = _check_data(msg)
    if reason is not None:
        stats.count(f"frames_dropped.{reason}")
        return None
    return msg


def decode_control(parts: list[bytes], stats: StageStats) -> ControlMsg | None:
    if len(parts) != 1:
        stats.count("control_dropped.parts")
        return None
    try:
        cmsg: ControlMsg = control_decoder.decode(parts[0])
        return cmsg
    except (msgspec.DecodeError, ValueError):  # msgspec raises UnicodeDecodeError on bad utf-8
        stats.count("control_dropped.decode")
        return None


def decode_event(parts: list[bytes], stats: StageStats) -> StageEvent | None:
    if len(parts) != 1:
        stats.count("events_dropped.parts")
        return None
    try:
        ev: StageEvent = event_decoder.decode(parts[0])
        return ev
    except (msgspec.DecodeError, ValueError):  # msgspec raises UnicodeDecodeError on bad utf-8
        stats.count("events_dropped.decode")
        return None
