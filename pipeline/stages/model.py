"""model: one connection per session to the realtime model, all on one event loop.

The only asyncio stage: its traffic is ~10 messages a second per session
(100 ms chunks up, model events down), where a ``zmq.asyncio`` receiver's cost
is irrelevant and websockets want a loop. Pings are answered from this loop,
so a stalled loop is a dead stage.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections import deque
from typing import Any

import msgspec
import zmq
import zmq.asyncio

from ipc.control import standard_reply
from ipc.heartbeat import ParentWatch, PeerLiveness
from ipc.schema import (
    ControlMsg,
    DataMsg,
    Hello,
    ModelCommands,
    SessionConfig,
    SessionEnd,
    SessionStart,
    Shutdown,
    StageEvent,
    StreamEvent,
    TruncatePoint,
    UserAudio,
    control_encoder,
    data_encoder,
    event_encoder,
)
from ipc.sockets import (
    bind_pull,
    connect_dealer,
    connect_pub,
    connect_push,
    decode_control,
    decode_data,
)
from ipc.stats import StageStats
from pipeline.process import prepare_stage_process
from pipeline.stages.model_link import ModelLink
from pipeline.stages.runner import stage_arg_parser

log = logging.getLogger("voxpipe.model")

# Events the supervisor must hear even when playout cannot place them: a fatal
# error with playout down, and the link coming up before playout knows the
# session (the agent replays its context and flushes its commands on it).
# Published straight to the bus; playout only logs them.
DIRECT_EVENTS = frozenset({"error", "model_connected", "model_disconnected"})


class ModelStage:
    name = "model"

    def __init__(self, runtime_dir: str, supervisor_timeout: float,
                 parent_pid: int | None = None) -> None:
        self.stats = StageStats()
        self.links: dict[str, ModelLink] = {}
        self.ended: deque[str] = deque(maxlen=256)  # recently ended sessions
        self.ctx = zmq.asyncio.Context()
        sync_ctx: Any = self.ctx  # the factories only call .socket()
        # zmq.asyncio sockets, typed loosely: pyzmq's stubs type recv/send as sync.
        self.inbox: Any = bind_pull(sync_ctx, f"ipc://{runtime_dir}/model.in")
        self.control: Any = connect_dealer(sync_ctx, f"ipc://{runtime_dir}/control", self.name)
        # Outbound sends never wait (NOBLOCK, drop and count at HWM), so they use plain
        # sockets: a zmq.asyncio send builds a future per message, which profiled as the
        # stage's largest single cost under load.
        self.out_ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.shadow(self.ctx.underlying)
        self.events = connect_pub(self.out_ctx, f"ipc://{runtime_dir}/events")
        self.playout = connect_push(self.out_ctx, f"ipc://{runtime_dir}/playout.in")
        self.supervisor = PeerLiveness(supervisor_timeout)
        self.parent = ParentWatch(parent_pid)
        self.stopping = asyncio.Event()

    # -- outbound --------------------------------------------------------------
    def to_playout(self, msg: DataMsg) -> None:
        try:
            self.playout.send(data_encoder.encode(msg), zmq.NOBLOCK)
        except zmq.Again:
            self.stats.count("send_dropped.playout")

    def emit_for(self, session: str) -> Any:
        def emit(kind: str, data: dict[str, Any]) -> None:
            now = time.monotonic_ns()
            direct = kind in DIRECT_EVENTS
            if direct:
                self._publish(StageEvent(session, self.name, kind, now, data))
            self.to_playout(StreamEvent(session, kind, data, now, publish=not direct))
        return emit

    def _publish(self, ev: StageEvent) -> None:
        try:
            self.events.send(event_encoder.encode(ev), zmq.NOBLOCK)
        except zmq.Again:
            self.stats.count("events_dropped.hwm")

    async def _control_send(self, msg: msgspec.Struct) -> None:
        await self.control.send(control_encoder.encode(msg))

    # -- loops -----------------------------------------------------------------
    async def control_loop(self) -> None:
        while not self.stopping.is_set():
            parts = await self.control.recv_multipart()
            self.supervisor.seen()
            msg = decode_control(parts, self.stats)
            if msg is not None:
                await self._on_control(msg)

    async def _on_control(self, msg: ControlMsg) -> None:
        reply = standard_reply(msg, self.name, self.stats)
        if reply is not None:
            await self._control_send(reply)
        elif isinstance(msg, SessionStart):
            self._start_link(msg.config)
        elif isinstance(msg, SessionEnd):
            self.ended.append(msg.session)
            link = self.links.pop(msg.session, None)
            if link is not None:
                await link.close()
        elif isinstance(msg, Shutdown):
            self.stopping.set()
        elif isinstance(msg, ModelCommands):
            link = self.links.get(msg.session)
            if link is None:
                self.stats.count("commands_dropped.unknown_session")
            else:
                await link.send_commands(msg.commands)

    def _start_link(self, cfg: SessionConfig) -> None:
        if cfg.session in self.links:
            return
        link = ModelLink(cfg, self.to_playout, self.emit_for(cfg.session), self.stats)
        self.links[cfg.session] = link
        link.start()

    async def inbox_loop(self) -> None:
        while not self.stopping.is_set():
            parts = await self.inbox.recv_multipart()
            msg = decode_data(parts, self.stats)
            if msg is None:
                continue
            link = self.links.get(msg.session)
            if link is None:
                # Audio in flight when a session ended is expected, not bad input.
                self.stats.count("late_frames.ended_session" if msg.session in self.ended
                                 else "frames_dropped.unknown_session")
                continue
            self.stats.count("frames_in")
            if isinstance(msg, UserAudio):
                link.on_user_audio(msg)
            elif isinstance(msg, TruncatePoint):
                await link.on_truncate_point(msg)
            else:
                self.stats.count("frames_dropped.unexpected_type")

    async def watchdog(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(0.2)
            if self.parent.parent_gone() or self.supervisor.expired():
                log.warning("supervisor gone; exiting")
                self.stopping.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        await self._control_send(Hello(self.name, os.getpid()))
        tasks = [asyncio.create_task(c) for c in
                 (self.control_loop(), self.inbox_loop(), self.watchdog())]
        try:
            await self.stopping.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*(link.close() for link in self.links.values()),
                                 return_exceptions=True)
            for sock in (self.inbox, self.control, self.events, self.playout):
                sock.close(linger=0)
            self.ctx.term()
        return 0


def main(argv: list[str] | None = None) -> int:
    args = stage_arg_parser("model").parse_args(argv)
    prepare_stage_process("model", args.log_level, args.parent_pid)

    async def _main() -> int:
        return await ModelStage(args.runtime_dir, args.supervisor_timeout,
                                args.parent_pid).run()

    return asyncio.run(_main())


if __name__ == "__main__":
    sys.exit(main())
