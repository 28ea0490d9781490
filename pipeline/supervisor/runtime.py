"""The supervisor: owns the stage processes, the sessions and the event bus.

Runs on the caller's asyncio loop (user code lives here, never audio). Control
goes out on a ROUTER (one DEALER per stage worker, identity = worker name: ``dsp``,
or ``dsp.1`` of a sharded stage); events come in on a SUB that every stage's PUB
connects to. A session's control goes to the worker of each stage serving it
(``shards.py``); pings, stats requests and shutdown to every worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec
import zmq
import zmq.asyncio

from ipc.heartbeat import PingSchedule
from ipc.runtime_dir import RuntimeDir
from ipc.schema import (
    MAX_SESSION_ID_LEN,
    DtmfReceived,
    EdgeCandidate,
    FileTransport,
    Hello,
    ModelCommand,
    ModelCommands,
    Ping,
    PlayoutInterrupt,
    Pong,
    SessionClosed,
    SessionConfig,
    SessionEnd,
    SessionError,
    SessionEvent,
    SessionNote,
    SessionStart,
    Shutdown,
    StageEvent,
    StatsReply,
    StatsRequest,
    control_encoder,
    transport_kind,
)
from ipc.sockets import bind_router, bind_sub, decode_control, decode_event_batch
from ipc.stats import TICK_LATENESS_HOP, StageStats
from pipeline.logs import session_extra
from pipeline.supervisor.admission import AdmissionLimits, AdmissionPolicy, limits_from_env
from pipeline.supervisor.arbiter import Arbiter, ArbiterOptions, CrashLoop
from pipeline.supervisor.headroom import HeadroomMonitor
from pipeline.supervisor.session import Session, SessionSpec
from pipeline.supervisor.shards import ShardMap, workers_from_env
from pipeline.supervisor.stale import remove_stale_runtime_dirs

log = logging.getLogger("voxpipe.supervisor")

# Stages get a session's start downstream-first, so nothing arrives before its receiver
# knows it; the ingress stages (edge for live connections, capture for files) come last.
START_ORDER = ("playout", "model", "dsp", "edge", "capture")
# A session's timeline starts at least this long after it is started (every stage
# hears of it first), on a 20 ms grid in TICK_PHASES phases: the frames of half of the
# sessions fall due together, so each hot stage serves them in one wake-up and sends
# them down each hop as one batch. Measured with benchmarks/density.py: one phase for
# all made bursts (432 glitched replies at 300 sessions), no grid cost a third more
# CPU at 100 sessions; with 20 ms capture frames two phases (10 ms apart) cost capture
# and dsp a fifth less than four at 400 sessions (a wake-up's sends and polls cost
# 50-130 us each on this VM), and 300 sessions still play gap-free.
START_LEAD_NS = 50_000_000
TICK_GRID_NS = 20_000_000
TICK_PHASES = 2


def timeline_origin(now_ns: int, nth: int) -> int:
    """The t0 of the ``nth`` session started: on the grid, in phase ``nth % TICK_PHASES``."""
    on_grid = -(-(now_ns + START_LEAD_NS) // TICK_GRID_NS) * TICK_GRID_NS
    return on_grid + nth % TICK_PHASES * (TICK_GRID_NS // TICK_PHASES)


@dataclass(frozen=True)
class RuntimeOptions:
    arbiter: ArbiterOptions = field(default_factory=ArbiterOptions)
    runtime_parent: str | None = None
    manage_interval_s: float = 0.05
    # Admission control (None: admit every session); headroom is measured this often.
    admission: AdmissionLimits | None = field(default_factory=limits_from_env)
    headroom_interval_s: float = 1.0
    # Worker processes per stage, e.g. {"dsp": 2, "model": 2} (stages not named: one);
    # None: VOXPIPE_WORKERS, else the default from the cores (supervisor/shards.py).
    workers: Mapping[str, int] | None = None


class Runtime:
    """Start with ``async with Runtime(opts) as rt``; then ``start_session``."""

    def __init__(self, opts: RuntimeOptions | None = None) -> None:
        self.opts = opts or RuntimeOptions()
        self.stats = StageStats()
        self.sessions: dict[str, Session] = {}
        self._started = 0  # sessions started so far: each takes the next tick phase
        self.dir: RuntimeDir | None = None
        self.arbiter: Arbiter | None = None
        self.fault: str | None = None
        self.failed = asyncio.Event()
        self._ctx = zmq.asyncio.Context()
        # zmq.asyncio sockets; typed loosely because pyzmq's stubs type recv as sync.
        self._router: Any = None
        self._sub: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stats_waiters: dict[int, asyncio.Future[StatsReply]] = {}
        self._request_ids = itertools.count(1)
        self._ready = asyncio.Event()
        limits = self.opts.admission
        self.admission = AdmissionPolicy(limits) if limits is not None else None
        self.shards = ShardMap(self.opts.workers if self.opts.workers is not None
                               else workers_from_env())
        self.headroom = HeadroomMonitor(self.pids, self._playout_stats, self.shards.counts)
        beat = self.opts.arbiter
        # A pong still counts while it answers a ping sent within the stage's deadline.
        self._pings = PingSchedule(beat.heartbeat_interval_s, remember=math.ceil(
            beat.heartbeat_timeout_s / beat.heartbeat_interval_s) + 1)

    # -- lifecycle -------------------------------------------------------------
    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        remove_stale_runtime_dirs(self.opts.runtime_parent)
        self.dir = RuntimeDir.create(self.opts.runtime_parent)
        (self.dir.path / "owner.pid").write_text(str(os.getpid()))
        ctx: Any = self._ctx
        self._router = bind_router(ctx, self.dir.control)
        self._sub = bind_sub(ctx, self.dir.events)
        self.arbiter = Arbiter(str(self.dir.path), self.opts.arbiter,
                               workers=self.shards.counts)
        self.arbiter.spawn_all()
        loops = [self._control_loop(), self._event_loop(), self._manage_loop()]
        if self.admission is not None:
            loops.append(self.headroom.watch(self.admission, self.live_sessions,
                                             self.opts.headroom_interval_s))
        self._tasks = [asyncio.create_task(c) for c in loops]
        try:
            await asyncio.wait_for(self._ready.wait(), self.opts.arbiter.boot_timeout_s)
        except TimeoutError:
            missing = [n for n, s in self.arbiter.stages.items() if not s.ready]
            await self.stop()
            raise RuntimeError(f"stages did not start in time: {', '.join(missing)}") from None
        if self.fault:
            await self.stop()
            raise RuntimeError(self.fault)

    async def stop(self, grace_s: float = 1.0) -> None:
        """End every session (files finalised), stop every stage, remove the runtime dir."""
        if self.arbiter is None:
            return
        live = [s for s in self.sessions.values() if not s.closed.done()]
        for s in live:
            self.end_session(s.id)
        if live:
            await asyncio.wait([s.closed for s in live], timeout=grace_s)
        for name in self.arbiter.stages:
            self._send_control(name, Shutdown())
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self.arbiter.wait_all, 1.0)
        for s in live:
            self._close(s)
        for sock in (self._router, self._sub):
            if sock is not None:
                sock.close(linger=0)
        self._ctx.term()
        if self.dir is not None:
            self.dir.remove()
        self.arbiter = None

    # -- sessions --------------------------------------------------------------
    def admit(self, pending: int = 0) -> None:
        """Raise ``AdmissionRefused`` (reason, measured figures) if a new session would
        exceed the headroom the admission limits leave; return if it fits. ``pending``:
        sessions the caller admitted that have not started yet (they count as live)."""
        if self.admission is not None:
            live = self.live_sessions() + pending
            self.admission.check(replace(self.headroom.latest, sessions=live))

    def live_sessions(self) -> int:
        return sum(not s.ending for s in self.sessions.values())

    def start_session(self, spec: SessionSpec) -> Session:
        """Tell every stage, return the live session. The transport spec was validated
        when it was built (``file_transport`` reads the WAV header). Raises
        ``AdmissionRefused`` when the runtime has no headroom for it (``admit``)."""
        self.admit()
        sid = spec.new_id(taken=self.sessions)
        if not sid or len(sid) > MAX_SESSION_ID_LEN or not sid.isprintable():
            raise ValueError(f"session_id must be 1-{MAX_SESSION_ID_LEN} printable characters, "
                             f"got {sid!r}")
        if sid in self.sessions:
            raise ValueError(f"session id {sid!r} is already in use")
        spec.out_dir.mkdir(parents=True, exist_ok=True)
        cfg = SessionConfig(
            session=sid, t0_ns=timeline_origin(time.monotonic_ns(), self._started),
            out_dir=str(spec.out_dir),
            transport=spec.transport, chunk_ms=spec.chunk_ms, model_rate=spec.model_rate,
            provider=spec.provider, model=spec.model_spec(), agent=spec.agent,
            local_vad_min_speech_ms=spec.local_vad_min_speech_ms,
            local_vad_threshold_db=spec.local_vad_threshold_db,
            workers=self.shards.assign(sid),
        )
        session = Session(sid, spec, cfg)
        self.sessions[sid] = session
        self._started += 1
        for name in START_ORDER:
            self._send_session(name, sid, SessionStart(cfg))
        log.info("session started: %s transport -> %s", transport_kind(spec.transport),
                 spec.out_dir, extra=session_extra(sid))
        return session

    def end_session(self, sid: str) -> None:
        s = self.sessions.get(sid)
        if s is None or s.ending:
            return
        s.ending = True
        s.ending_at = time.monotonic()
        # Upstream first, so playout finalises after the last audio it will get.
        for name in reversed(START_ORDER):
            self._send_session(name, sid, SessionEnd(sid))

    # -- commands from the agent layer -----------------------------------------
    def send_model_commands(self, sid: str, commands: list[ModelCommand]) -> None:
        """Commands for the session's model connection, in order."""
        self._send_session("model", sid, ModelCommands(sid, commands))

    def interrupt(self, sid: str, reason: str = "interrupt", item_id: str = "") -> None:
        """Silence the session's agent audio at playout's next frame (and ``item_id``'s,
        should its audio arrive later)."""
        self._send_session("playout", sid, PlayoutInterrupt(sid, reason, item_id))

    def note(self, sid: str, event: SessionEvent) -> None:
        """Put an agent-layer event on the session timeline (events.jsonl); a live
        caller (an edge-served transport) gets the same line from the edge."""
        s = self.sessions.get(sid)
        if s is None:
            self._send_session("playout", sid, SessionNote(sid, event))
            return
        # Stamped here, once, so events.jsonl and the caller's copy are the same line.
        t_ms = round((time.monotonic_ns() - s.config.t0_ns) / 1e6, 1)
        note = SessionNote(sid, event, t_ms)
        self._send_session("playout", sid, note)
        if not isinstance(s.config.transport, FileTransport):
            self._send_session("edge", sid, note)

    def candidate(self, sid: str, candidate: str, sdp_mid: str | None = None,
                  sdp_mline_index: int | None = None) -> None:
        """A trickled ICE candidate for the session's WebRTC peer (``""``: no more)."""
        self._send_session("edge", sid, EdgeCandidate(sid, candidate, sdp_mid, sdp_mline_index))

    def _close(self, s: Session) -> None:
        if not s.closed.done():
            s.closed.set_result(s.summary())
            log.info("session closed", extra=session_extra(s.id))
        if self.sessions.pop(s.id, None) is not None:
            self.shards.release(s.id)

    # -- queries ---------------------------------------------------------------
    async def stage_stats(self, timeout_s: float = 2.0, *, counters_only: bool = False,
                          stages: tuple[str, ...] = (),
                          hops: tuple[str, ...] = ()) -> dict[str, StatsReply]:
        """Counters and hop latencies from every stage worker (or from ``stages``: a
        stage stands for all its workers; ``counters_only``: no latencies; ``hops``: only
        those hops' latencies), keyed by worker name (``shards.by_stage`` folds them)."""
        assert self.arbiter is not None
        waiters = {}
        for name in self.shards.expand(stages) if stages else tuple(self.arbiter.stages):
            rid = next(self._request_ids)
            fut = self._stats_waiters[rid] = asyncio.get_running_loop().create_future()
            waiters[name] = (rid, fut)
            self._send_control(name, StatsRequest(rid, counters_only, hops))
        done: dict[str, StatsReply] = {}
        for name, (rid, fut) in waiters.items():
            with contextlib.suppress(TimeoutError):
                done[name] = await asyncio.wait_for(fut, timeout_s)
            self._stats_waiters.pop(rid, None)  # unanswered (a stage down): not kept
        return done

    def pids(self) -> dict[str, int]:
        return self.arbiter.pids() if self.arbiter else {}

    async def _playout_stats(self) -> dict[str, StatsReply]:
        return await self.stage_stats(1.0, stages=("playout",), hops=(TICK_LATENESS_HOP,))

    # -- loops -----------------------------------------------------------------
    def _send_session(self, stage: str, sid: str, msg: msgspec.Struct) -> None:
        """A session's control message to the ``stage`` worker serving the session."""
        s = self.sessions.get(sid)
        self._send_control(self.shards.worker(stage, s.config if s else None), msg)

    def _send_control(self, stage: str, msg: msgspec.Struct) -> None:
        if self._router is None:
            return
        try:
            # The asyncio socket's own send, dear as its future is: a plain send on it
            # can take the edge of its FD from under the receiver, which then misses
            # what arrives (the stages' pongs: every stage declared dead at once).
            self._router.send_multipart([stage.encode(), control_encoder.encode(msg)],
                                        zmq.NOBLOCK)
        except zmq.ZMQError:
            self.stats.count("control_send_dropped")

    async def _control_loop(self) -> None:
        assert self._router is not None and self.arbiter is not None
        while True:
            frames = await self._router.recv_multipart()
            if len(frames) < 2:
                self.stats.count("control_dropped.parts")
                continue
            stage = frames[0].decode(errors="replace")
            msg = decode_control(frames[1:], self.stats)
            if msg is None:
                continue
            if isinstance(msg, Pong):
                self._on_pong(stage, msg)
                continue
            self.arbiter.seen(stage)
            if isinstance(msg, Hello):
                self._on_hello(msg)
            elif isinstance(msg, StatsReply):
                fut = self._stats_waiters.pop(msg.request_id, None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)

    def _on_pong(self, stage: str, msg: Pong) -> None:
        """A heartbeat answer: life and a round trip, if it echoes a ping we sent."""
        assert self.arbiter is not None
        if not self._pings.answers(msg.token):
            self.stats.count("pong_dropped.token")
            return
        self.arbiter.seen(stage)
        self.stats.hop(f"control_rtt.{stage}").record_ns(
            max(0, time.monotonic_ns() - msg.sent_ns))

    def _on_hello(self, msg: Hello) -> None:
        assert self.arbiter is not None
        st = self.arbiter.mark_ready(msg.stage, msg.pid)
        if st is None:
            return
        log.info("stage %s ready (pid %d)", msg.stage, msg.pid)
        # A restarted stage worker gets its live sessions back, positioned where they stand.
        for s in self.sessions.values():
            if not s.ending and self.shards.serves(msg.stage, s.config):
                cfg = msgspec.structs.replace(s.config, resume_frame=s.progress_frame)
                self._send_control(msg.stage, SessionStart(cfg, resumed=True))
        if all(x.ready for x in self.arbiter.stages.values()):
            self._ready.set()

    async def _event_loop(self) -> None:
        assert self._sub is not None
        while True:
            for ev in decode_event_batch(await self._sub.recv_multipart(), self.stats):
                self._on_event(ev)
            await asyncio.sleep(0)  # a backlog must not starve the heartbeats' pongs

    def _on_event(self, ev: StageEvent) -> None:
        s = self.sessions.get(ev.session)
        if s is None:
            return
        if isinstance(ev.event, DtmfReceived) and not ev.origin:
            # A key press the edge heard belongs on the record: playout logs it at the
            # edge's moment and publishes it back, which is the copy listeners get
            # (once, with its place on the timeline).
            t_ms = round((ev.t_ns - s.config.t0_ns) / 1e6, 1)
            self._send_control("playout", SessionNote(s.id, ev.event, t_ms))
            return
        s.apply(ev)
        if isinstance(ev.event, SessionError) and ev.event.fatal and not s.ending:
            log.error("session failed: %s", s.error, extra=session_extra(s.id))
            self.end_session(s.id)
        for listener in s.listeners:
            try:
                listener(ev)
            except Exception:  # user code must not take the supervisor down
                log.exception("event listener failed", extra=session_extra(s.id))
        if isinstance(ev.event, SessionClosed):
            self._close(s)

    async def _manage_loop(self) -> None:
        assert self.arbiter is not None
        pings = self._pings
        while True:
            await asyncio.sleep(self.opts.manage_interval_s)
            now = time.monotonic()
            try:
                self.arbiter.manage()
            except CrashLoop as exc:
                self.fault = str(exc)
                log.error("%s", exc)
                self._ready.set()
                self.failed.set()
                return
            if pings.due(now):
                token = pings.next_token(now)
                for name, st in self.arbiter.stages.items():
                    if st.ready:
                        self._send_control(name, Ping(token, time.monotonic_ns()))
            for s in list(self.sessions.values()):
                if s.should_close(now):
                    self.end_session(s.id)
                elif s.ending and now - s.ending_at > 5.0 and not s.closed.done():
                    self._close(s)  # playout never confirmed: do not hang the caller
