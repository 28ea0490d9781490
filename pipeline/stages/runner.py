"""The loop every hot stage (capture, dsp, playout) runs.

Shape (STYLE 9/10/12): set up sockets -> loop (poll with a deadline -> handle
-> heartbeat) -> close with LINGER 0. Signal handlers only set a flag; all work
and logging happen in the loop. Pings are answered from this loop, so a stage
that stops looping stops answering and gets restarted.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import time
from collections import deque
from typing import Final

import msgspec
import zmq

from ipc.control import standard_reply
from ipc.heartbeat import ParentWatch, PeerLiveness
from ipc.schema import (
    ControlMsg,
    DataMsg,
    Hello,
    SessionConfig,
    SessionEnd,
    SessionEvent,
    SessionStart,
    Shutdown,
    StageEvent,
    control_encoder,
)
from ipc.shards import PushRoute, connect_routes, parse_workers, worker_name
from ipc.sockets import (
    Outbox,
    bind_pull,
    connect_dealer,
    connect_pub,
    decode_control,
    decode_data_batch,
)
from ipc.stats import StageStats
from pipeline.process import prepare_stage_process

# Messages handled per socket per wake-up before looking at deadlines again:
# bounds how long a flood on one socket can delay ticks on another.
MAX_BATCH: Final = 256
LIVENESS_CHECK_NS: Final = 100_000_000


def stage_arg_parser(stage: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"voxpipe-{stage}", description=f"voxpipe {stage} stage")
    p.add_argument("--runtime-dir", required=True, help="the run's private ipc directory")
    p.add_argument("--supervisor-timeout", type=float, default=5.0,
                   help="exit when the supervisor is silent this long (s)")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--parent-pid", type=int, default=None,
                   help="the supervisor's pid (exit at once if it is already gone)")
    p.add_argument("--worker", type=int, default=0,
                   help="which of the stage's workers this process is (0-based)")
    p.add_argument("--workers", default="",
                   help="every sharded stage's worker count, e.g. dsp=2,model=2")
    return p


def worker_identity(stage: str, args: argparse.Namespace) -> str:
    """This process's name among the stage's workers: its inbox and control identity."""
    return worker_name(stage, args.worker, parse_workers(args.workers)[stage])


class HotStage:
    """Base of a poller-loop stage. Subclasses override the ``on_*`` hooks."""

    name: str = "stage"
    #: stages whose inboxes this stage pushes to
    pushes_to: tuple[str, ...] = ()

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.worker = worker_identity(self.name, args)
        self.log = logging.getLogger(f"voxpipe.{self.name}")
        self.stats = StageStats()
        self.sessions: dict[str, SessionConfig] = {}
        self._ended: deque[str] = deque(maxlen=256)  # recently ended sessions
        self._stopping = False
        self._ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        rd = args.runtime_dir
        self.inbox = bind_pull(self._ctx, f"ipc://{rd}/{self.worker}.in")
        self.control = connect_dealer(self._ctx, f"ipc://{rd}/control", self.worker)
        self.events = connect_pub(self._ctx, f"ipc://{rd}/events")
        self.push: dict[str, PushRoute] = connect_routes(
            self._ctx, rd, self.pushes_to, parse_workers(args.workers), self.stats)
        self.events_out = Outbox(self.events, "events", self.stats)
        self.supervisor = PeerLiveness(args.supervisor_timeout)
        self.parent = ParentWatch(args.parent_pid)

    # -- hooks ---------------------------------------------------------------
    def on_session_start(self, cfg: SessionConfig, resumed: bool) -> None:
        """A session begins, or is replayed to this restarted stage (``resumed``)."""

    def on_session_end(self, session: str) -> None:
        """Flush and free a session's state."""

    def on_data(self, msg: DataMsg) -> None:
        """One validated message from the inbox (a stage that takes none drops it)."""
        self.stats.count("frames_dropped.unexpected_type")

    def on_tick(self, now_ns: int) -> int | None:
        """Do due work; return the next deadline (monotonic ns) or None."""
        return None

    def on_shutdown(self) -> None:
        """Graceful stop: finish every live session's outputs."""
        for session in list(self.sessions):
            self.end_session(session)

    # -- services for subclasses ---------------------------------------------
    def send(self, dst: str, msg: DataMsg) -> bool:
        """Queue a data message for the ``dst`` worker serving its session; the wake-up's
        messages for each hop go as one batch when it ends. False: the hop is full (the
        caller keeps its message), or the session is not routed (ended)."""
        box = self.push[dst].outbox(msg.session)
        if box is None:  # a session this stage does not know (ended): nowhere to go
            self.stats.count(f"send_dropped.{dst}.unrouted")
            return False
        return box.add(msg)

    def flush_outboxes(self) -> None:
        for route in self.push.values():
            route.flush()
        self.events_out.flush()

    def emit(self, session: str, event: SessionEvent, t_ms: float | None = None,
             origin: str = "") -> None:
        """Publish a session event on the bus (``t_ms``, ``origin``: placed on the timeline)."""
        ev = StageEvent(session, self.name, time.monotonic_ns(), event, t_ms, origin)
        self.events_out.add(ev)

    def end_session(self, session: str) -> None:
        if session in self.sessions:
            self.on_session_end(session)
            del self.sessions[session]
            self._ended.append(session)
            for route in self.push.values():
                route.close(session)

    # -- loop ----------------------------------------------------------------
    def _handle_control(self, msg: ControlMsg) -> None:
        reply = standard_reply(msg, self.worker, self.stats)
        if reply is not None:
            self._send_control(reply)
        elif isinstance(msg, SessionStart):
            cfg = msg.config
            known = cfg.session in self.sessions
            self.sessions[cfg.session] = cfg
            if not known:
                for dst, route in self.push.items():
                    route.open(cfg.session, cfg.workers.get(dst, 0))
                self.on_session_start(cfg, resumed=msg.resumed)
        elif isinstance(msg, SessionEnd):
            self.end_session(msg.session)
        elif isinstance(msg, Shutdown):
            self._stopping = True
        else:
            self.on_control(msg)

    def on_control(self, msg: ControlMsg) -> None:
        """A session-level control message (interrupt, note); stages that take none count it."""
        self.stats.count("control_dropped.unexpected_type")

    def _send_control(self, msg: msgspec.Struct) -> None:
        try:
            self.control.send(control_encoder.encode(msg), zmq.NOBLOCK)
        except zmq.Again:
            self.stats.count("control_send_dropped")

    def _drain(self, sock: zmq.Socket[bytes]) -> None:
        for _ in range(MAX_BATCH):
            # Checking EVENTS first: ending every drain on a raised zmq.Again costs
            # more than the message handling itself.
            if not int(sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
                return
            parts = sock.recv_multipart(zmq.NOBLOCK)
            if sock is self.control:
                self.supervisor.seen()
                cmsg = decode_control(parts, self.stats)
                if cmsg is not None:
                    self._handle_control(cmsg)
            else:
                taken, sessions = 0, self.sessions
                for dmsg in decode_data_batch(parts, self.stats):
                    if dmsg.session not in sessions:
                        # Upstream traffic still in flight when a session ended is
                        # expected, not bad input: counted apart from malformed frames.
                        if dmsg.session in self._ended:
                            self.stats.count("late_frames.ended_session")
                        else:
                            self.stats.count("frames_dropped.unknown_session")
                        continue
                    taken += 1
                    self.on_data(dmsg)
                self.stats.count("frames_in", taken)  # once per batch, not per frame

    def run(self) -> int:
        self._send_control(Hello(self.worker, os.getpid()))
        poller = zmq.Poller()
        poller.register(self.inbox, zmq.POLLIN)
        poller.register(self.control, zmq.POLLIN)
        next_ns: int | None = None
        next_check_ns = 0
        try:
            while not self._stopping:
                now_ns = time.monotonic_ns()
                timeout_ms = 50.0
                if next_ns is not None:
                    timeout_ms = max(0.0, min(timeout_ms, -(-(next_ns - now_ns) // 1_000_000)))
                for sock, _ in poller.poll(int(timeout_ms)):
                    self._drain(sock)  # type: ignore[arg-type]
                now_ns = time.monotonic_ns()
                next_ns = self.on_tick(now_ns)
                self.flush_outboxes()
                if now_ns >= next_check_ns:
                    next_check_ns = now_ns + LIVENESS_CHECK_NS
                    if self.parent.parent_gone() or self.supervisor.expired():
                        self.log.warning("supervisor gone; exiting")
                        self._stopping = True
            self.on_shutdown()
            self.flush_outboxes()
            return 0
        finally:
            for sock in (self.inbox, self.control, self.events,
                         *(s for route in self.push.values() for s in route.sockets)):
                sock.close(linger=0)
            self._ctx.term()

    def request_stop(self, *_: object) -> None:
        self._stopping = True


def run_stage(cls: type[HotStage], argv: list[str] | None) -> int:
    """Process entry for a hot stage: title, signals, logging, then the loop."""
    args = stage_arg_parser(cls.name).parse_args(argv)
    prepare_stage_process(worker_identity(cls.name, args), args.log_level, args.parent_pid)
    stage = cls(args)
    signal.signal(signal.SIGTERM, stage.request_stop)
    return stage.run()
