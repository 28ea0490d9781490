"""The loop every asyncio stage (model, edge) runs: control, inbox, watchdog.

For stages whose peers are asyncio libraries (websockets, live connections): their
traffic is tens of messages a second per session, where a ``zmq.asyncio`` receiver's
cost does not matter and the libraries want a loop. Pings are answered from this
loop, so a stalled loop is a dead stage (restarted like a hot one). Outbound sends
never wait (NOBLOCK, drop and count at HWM), so they use plain sockets: a
``zmq.asyncio`` send builds a future per message, which profiled as the model
stage's largest single cost under load.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import time
from collections import deque
from typing import Any, Final

import msgspec
import zmq
import zmq.asyncio

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
from ipc.shards import PushRoute, connect_routes, parse_workers
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
from pipeline.stages.runner import stage_arg_parser, worker_identity

WATCHDOG_INTERVAL_S: Final = 0.2
# How long a stopping stage waits for connections still closing in the background.
CLOSE_GRACE_S: Final = 2.0


class AsyncStage:
    """Base of an asyncio stage. Subclasses override the ``on_*`` hooks; a hook that
    raises is logged and counted (``hook_errors.<hook>``), never fatal to the loop."""

    name: str = "stage"
    #: stages whose inboxes this stage pushes to
    pushes_to: tuple[str, ...] = ()

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.worker = worker_identity(self.name, args)
        self.log = logging.getLogger(f"voxpipe.{self.name}")
        self.stats = StageStats()
        self.sessions: dict[str, SessionConfig] = {}
        self.ended: deque[str] = deque(maxlen=256)  # recently ended sessions
        rd = args.runtime_dir
        self.ctx = zmq.asyncio.Context()
        sync_ctx: Any = self.ctx  # the factories only call .socket()
        # zmq.asyncio sockets, typed loosely: pyzmq's stubs type recv/send as sync.
        self.inbox: Any = bind_pull(sync_ctx, f"ipc://{rd}/{self.worker}.in")
        self.control: Any = connect_dealer(sync_ctx, f"ipc://{rd}/control", self.worker)
        self.out_ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.shadow(self.ctx.underlying)
        self.events = connect_pub(self.out_ctx, f"ipc://{rd}/events")
        self.push: dict[str, PushRoute] = connect_routes(
            self.out_ctx, rd, self.pushes_to, parse_workers(args.workers), self.stats)
        self.events_out = Outbox(self.events, "events", self.stats)
        self._flush_scheduled = False
        self.closing: set[asyncio.Future[Any]] = set()  # connections closing (background)
        self.supervisor = PeerLiveness(args.supervisor_timeout)
        self.parent = ParentWatch(args.parent_pid)
        self.stopping = asyncio.Event()

    # -- hooks ---------------------------------------------------------------
    async def on_session_start(self, cfg: SessionConfig, resumed: bool) -> None:
        """A session begins, or is replayed to this restarted stage (``resumed``)."""

    async def on_session_end(self, session: str) -> None:
        """Free a session's state (close its connections)."""

    async def on_data(self, msg: DataMsg) -> None:
        """One validated message of a known session (a stage that takes none drops it)."""
        self.stats.count("frames_dropped.unexpected_type")

    async def on_control(self, msg: ControlMsg) -> None:
        """A session-level control message; stages that take none count it."""
        self.stats.count("control_dropped.unexpected_type")

    async def on_stop(self) -> None:
        """The stage stops: every session has ended; connections still closing in the
        background get CLOSE_GRACE_S."""
        if self.closing:
            await asyncio.wait(self.closing, timeout=CLOSE_GRACE_S)

    # -- services for subclasses ---------------------------------------------
    async def close_in_background(self, session: str, closing: Any) -> None:
        """Run a connection's close (``closing``, an awaitable) off the control loop: a
        close handshake waits on the far end (seconds when it is busy), and awaited in
        ``on_session_end`` it would hold the control loop, and with it the heartbeats.
        A stopping stage awaits it there and then (every connection closes before the
        stage exits)."""
        if self.stopping.is_set():
            await closing
            return
        task = asyncio.ensure_future(closing)
        task.set_name(f"close {session}")
        self.closing.add(task)
        task.add_done_callback(self._closed)

    def _closed(self, task: asyncio.Future[Any]) -> None:
        self.closing.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self.stats.count("hook_errors.on_session_end")
            self.log.error("closing a connection failed: %r", exc)

    def send(self, dst: str, msg: DataMsg) -> bool:
        """Queue ``msg`` for the ``dst`` worker serving its session: what this loop
        iteration sends each hop goes as one batch, flushed once the iteration's ready
        callbacks have run. False: the hop is full (the caller keeps its message), or
        the session is not routed (ended)."""
        box = self.push[dst].outbox(msg.session)
        if box is None:  # a session this stage does not know (ended): nowhere to go
            self.stats.count(f"send_dropped.{dst}.unrouted")
            return False
        return self._queue(box, msg)

    def _queue(self, box: Outbox, msg: msgspec.Struct) -> bool:
        if not box.add(msg):
            return False
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_outboxes)
        return True

    def _flush_outboxes(self) -> None:
        self._flush_scheduled = False
        for route in self.push.values():
            route.flush()
        self.events_out.flush()

    def emit(self, session: str, event: SessionEvent) -> None:
        """Publish a session event on the bus (batched with the iteration's others)."""
        self._queue(self.events_out, StageEvent(session, self.name, time.monotonic_ns(), event))

    async def send_control(self, msg: msgspec.Struct) -> None:
        await self.control.send(control_encoder.encode(msg))

    async def end_session(self, session: str) -> None:
        if self.sessions.pop(session, None) is not None:
            self.ended.append(session)
            await self._guarded("on_session_end", self.on_session_end(session))
            for route in self.push.values():
                route.close(session)

    async def _guarded(self, hook: str, work: Any) -> None:
        try:
            await work
        except Exception:
            self.stats.count(f"hook_errors.{hook}")
            self.log.exception("%s failed", hook)

    # -- loops ---------------------------------------------------------------
    async def _control_loop(self) -> None:
        while not self.stopping.is_set():
            parts = await self.control.recv_multipart()
            self.supervisor.seen()
            msg = decode_control(parts, self.stats)
            if msg is not None:
                await self._handle_control(msg)

    async def _handle_control(self, msg: ControlMsg) -> None:
        reply = standard_reply(msg, self.worker, self.stats)
        if reply is not None:
            await self.send_control(reply)
        elif isinstance(msg, SessionStart):
            cfg = msg.config
            known = cfg.session in self.sessions
            self.sessions[cfg.session] = cfg
            if not known:
                for dst, route in self.push.items():
                    route.open(cfg.session, cfg.workers.get(dst, 0))
                await self._guarded("on_session_start",
                                    self.on_session_start(cfg, msg.resumed))
        elif isinstance(msg, SessionEnd):
            await self.end_session(msg.session)
        elif isinstance(msg, Shutdown):
            self.stopping.set()
        else:
            await self._guarded("on_control", self.on_control(msg))

    async def _inbox_loop(self) -> None:
        while not self.stopping.is_set():
            parts = await self.inbox.recv_multipart()
            for msg in decode_data_batch(parts, self.stats):
                if msg.session not in self.sessions:
                    # Traffic in flight when a session ended is expected, not bad input.
                    self.stats.count("late_frames.ended_session" if msg.session in self.ended
                                     else "frames_dropped.unknown_session")
                    continue
                self.stats.count("frames_in")
                await self._guarded("on_data", self.on_data(msg))
            # A ready socket's recv returns without yielding: with a backlog this loop
            # would starve the control loop (heartbeats) and the connections it feeds.
            await asyncio.sleep(0)

    async def _watchdog(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(WATCHDOG_INTERVAL_S)
            if self.parent.parent_gone() or self.supervisor.expired():
                self.log.warning("supervisor gone; exiting")
                self.stopping.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        await self.send_control(Hello(self.worker, os.getpid()))
        tasks = [asyncio.create_task(c) for c in
                 (self._control_loop(), self._inbox_loop(), self._watchdog())]
        try:
            await self.stopping.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Graceful stop: every live session's connections are closed, not dropped.
            for session in list(self.sessions):
                await self.end_session(session)
            await self._guarded("on_stop", self.on_stop())
            self._flush_outboxes()
            for sock in (self.inbox, self.control, self.events,
                         *(s for route in self.push.values() for s in route.sockets)):
                sock.close(linger=0)
            self.ctx.term()
        return 0


def run_async_stage(cls: type[AsyncStage], argv: list[str] | None) -> int:
    """Process entry for an asyncio stage: title, logging, then the loop."""
    args = stage_arg_parser(cls.name).parse_args(argv)
    prepare_stage_process(worker_identity(cls.name, args), args.log_level, args.parent_pid)

    async def _main() -> int:
        return await cls(args).run()

    return asyncio.run(_main())
