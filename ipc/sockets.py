"""Socket factories and the receive boundary.

Topology (see docs/architecture.md): every stage binds one PULL inbox
(``<stage>.in``; each worker of a sharded stage its own, ``ipc/shards.py``) and PUSHes
to the inboxes it feeds; the supervisor binds the
control ROUTER and the event SUB; stages connect a DEALER (identity = stage
name) and a PUB. Downstream binds, upstream connects, so a restarted stage
re-binds the same path and its peers reconnect on their own.

Every receiver goes through ``decode_data_batch``/``decode_control``: a message that
does not decode or breaks a bound is counted under ``frames_dropped.<reason>``
and dropped; nothing here raises into a stage's loop.

Data hops carry batches: an :class:`Outbox` collects what a stage sends one inbox
during one wake-up (every session's frame due at that tick) and sends it as one
msgpack array, so the per-message cost of a hop (a zmq send, a receive, a decode
call) is paid once per wake-up instead of once per session.
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
    data_encoder,
    event_decoder,
)
from ipc.stats import StageStats

# A batch is split in halves until each is at most this big: below pyzmq's zero-copy
# threshold (64 KiB), past which a send costs several times more per byte.
BATCH_MAX_BYTES: Final = 60_000
# A data hop queues at most this many messages (batches) per peer. 10 ms frames from
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


class Outbox:
    """What one stage sends one hop during a wake-up, sent as batches by :meth:`flush`.

    ``add`` refuses (returns False, the sender keeps its message) while the hop is
    full: a batch was dropped at HWM and the peer has not drained since (checked once
    per flush, not per message)."""

    __slots__ = ("_full", "hop", "msgs", "sock", "stats")

    def __init__(self, sock: zmq.Socket[bytes], hop: str, stats: StageStats) -> None:
        self.sock, self.hop, self.stats = sock, hop, stats
        self.msgs: list[msgspec.Struct] = []
        self._full = False

    def add(self, msg: msgspec.Struct) -> bool:
        if self._full:
            self.stats.count(f"send_refused.{self.hop}")
            return False
        self.msgs.append(msg)
        return True

    def flush(self) -> None:
        if self._full:
            self._full = not int(self.sock.getsockopt(zmq.EVENTS)) & zmq.POLLOUT
        if self.msgs:
            self._send(self.msgs)
            self.msgs = []

    def _send(self, batch: list[msgspec.Struct]) -> None:
        payload = data_encoder.encode(batch)
        if len(payload) > BATCH_MAX_BYTES and len(batch) > 1:
            half = len(batch) // 2
            self._send(batch[:half])
            self._send(batch[half:])
        elif not send_data(self.sock, payload, self.stats, self.hop):
            self.stats.count(f"send_dropped_msgs.{self.hop}", len(batch))
            self._full = True
        else:
            self.stats.count(f"batches_sent.{self.hop}")


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


_batch_decoder: Final = msgspec.msgpack.Decoder(list[DataMsg])
_raw_list_decoder: Final = msgspec.msgpack.Decoder(list[msgspec.Raw])


def decode_data_batch(parts: list[bytes], stats: StageStats) -> list[DataMsg]:
    """Decode one received batch (or a lone message) into its valid messages; a bad
    message is counted and dropped without taking its batch-mates with it."""
    if len(parts) != 1:
        stats.count("frames_dropped.parts")
        return []
    try:
        msgs = _batch_decoder.decode(parts[0])
    except (msgspec.DecodeError, ValueError):
        return _decode_each(parts[0], stats)
    good = []
    for msg in msgs:
        reason = _check_data(msg)
        if reason is None:
            good.append(msg)
        else:
            stats.count(f"frames_dropped.{reason}")
    return good


def _decode_each(frame: bytes, stats: StageStats) -> list[DataMsg]:
    """The slow road for a frame that is not a whole valid batch: a lone message, or a
    batch holding a bad one (decoded message by message)."""
    try:
        one: DataMsg = data_decoder.decode(frame)
    except (msgspec.DecodeError, ValueError):
        pass
    else:
        reason = _check_data(one)
        if reason is None:
            return [one]
        stats.count(f"frames_dropped.{reason}")
        return []
    try:
        raws = _raw_list_decoder.decode(frame)
    except (msgspec.DecodeError, ValueError):
        stats.count("frames_dropped.decode")
        return []
    if not raws or not _is_array(bytes(raws[0])):  # a lone message that did not decode
        stats.count("frames_dropped.decode")
        return []
    found = (decode_data([bytes(raw)], stats) for raw in raws)
    return [msg for msg in found if msg is not None]


def _is_array(encoded: bytes) -> bool:
    """Whether a msgpack value is an array (every data message is one)."""
    head = encoded[0]
    return 0x90 <= head <= 0x9F or head in (0xDC, 0xDD)


_event_batch_decoder: Final = msgspec.msgpack.Decoder(list[StageEvent])


def decode_event_batch(parts: list[bytes], stats: StageStats) -> list[StageEvent]:
    """Decode one received batch of events (or a lone event); what does not decode is
    counted and dropped."""
    if len(parts) == 1:
        try:
            return _event_batch_decoder.decode(parts[0])
        except (msgspec.DecodeError, ValueError):
            pass
    ev = decode_event(parts, stats)
    return [] if ev is None else [ev]


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
