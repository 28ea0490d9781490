"""Stage processes: spawn, reap, kill on a missed deadline, give up on a crash loop.

gunicorn's arbiter shape without its size: one ``manage`` step, called from the
supervisor's loop, does ``reap`` (``Popen.poll`` is ``waitpid(WNOHANG)``) ->
``kill_unresponsive`` (SIGCONT + SIGABRT so faulthandler dumps the stack, SIGKILL
after a grace) -> ``respawn``. A stage that keeps dying at boot stops everything with a
reason instead of spinning.

The clock, the process spawner and the signal sender are parameters (real ones by
default), so the policy is tested with a fake clock and fake processes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from ipc.heartbeat import PeerLiveness
from ipc.shards import STAGE_KINDS, check_workers, format_workers, split_worker, worker_names
from pipeline.process import block_abort

log = logging.getLogger("voxpipe.supervisor")

STAGES: Final = STAGE_KINDS
ABORT_GRACE_S: Final = 0.5


class ChildProcess(Protocol):
    """What the arbiter needs of a started stage (``subprocess.Popen`` has it)."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


Clock = Callable[[], float]
SpawnProcess = Callable[[list[str]], ChildProcess]
SendSignal = Callable[[int, int], None]


def popen_stage(command: list[str]) -> subprocess.Popen[bytes]:
    """Start a stage process: no stdin, no inherited descriptors, and SIGABRT blocked
    (``block_abort``) until the stage takes it on its main thread: the helper threads
    its imports start (OpenBLAS's, with numpy) never take the deadline's SIGABRT."""
    old = block_abort()
    try:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, close_fds=True)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class CrashLoop(RuntimeError):
    """A stage died too often too fast; the message names it and its exit code."""


@dataclass(frozen=True)
class ArbiterOptions:
    heartbeat_interval_s: float = 0.5
    heartbeat_timeout_s: float = 3.0
    boot_timeout_s: float = 15.0
    crash_loop_spawns: int = 5
    crash_loop_window_s: float = 10.0
    log_level: str = "INFO"


@dataclass
class StageProcess:
    name: str
    proc: ChildProcess | None = None
    liveness: PeerLiveness = field(default_factory=lambda: PeerLiveness(3.0))
    ready: bool = False  # said Hello since its last spawn
    spawned_at: float = 0.0
    spawns: deque[float] = field(default_factory=lambda: deque(maxlen=32))
    restarts: int = 0
    abort_sent_at: float | None = None
    last_exit: int | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


class Arbiter:
    def __init__(
        self,
        runtime_dir: str,
        opts: ArbiterOptions,
        *,
        clock: Clock = time.monotonic,
        spawn_process: SpawnProcess = popen_stage,
        send_signal: SendSignal = os.kill,
        workers: Mapping[str, int] | None = None,
    ) -> None:
        self.runtime_dir = runtime_dir
        self.opts = opts
        self.clock = clock
        self.spawn_process = spawn_process
        self.send_signal = send_signal
        # Every stage's workers (ipc/shards.py): ``dsp`` alone, or ``dsp.0``, ``dsp.1``, ...
        self.workers = check_workers(workers or {})
        self.stages = {name: StageProcess(name) for stage in STAGES
                       for name in worker_names(stage, self.workers[stage])}
        self.fault: str | None = None  # set when the run must stop (crash loop)

    def command(self, name: str) -> list[str]:
        """The command line of worker ``name`` (``dsp``, or ``dsp.1`` of a sharded stage)."""
        stage, index = split_worker(name)
        command = [
            sys.executable, "-m", f"pipeline.stages.{stage}",
            "--runtime-dir", self.runtime_dir,
            "--supervisor-timeout", str(max(2.0, self.opts.heartbeat_timeout_s * 2)),
            "--log-level", self.opts.log_level,
            "--parent-pid", str(os.getpid()),
        ]
        sharded = format_workers(self.workers)
        if sharded:  # every process routes to every sharded stage's workers
            command += ["--workers", sharded]
        if self.workers[stage] > 1:
            command += ["--worker", str(index)]
        return command

    def spawn(self, st: StageProcess) -> None:
        now = self.clock()
        st.spawns.append(now)
        recent = [t for t in st.spawns if now - t <= self.opts.crash_loop_window_s]
        if len(recent) > self.opts.crash_loop_spawns:
            self.fault = (f"stage {st.name} keeps dying (last exit code {st.last_exit}); "
                          f"{len(recent) - 1} starts in {self.opts.crash_loop_window_s:.0f} s, "
                          "giving up")
            raise CrashLoop(self.fault)
        st.proc = self.spawn_process(self.command(st.name))
        st.spawned_at = now
        st.ready = False
        st.abort_sent_at = None
        st.liveness = PeerLiveness(self.opts.boot_timeout_s, last_seen=now)
        log.info("started %s (pid %d)", st.name, st.proc.pid)

    def spawn_all(self) -> None:
        for st in self.stages.values():
            self.spawn(st)

    def mark_ready(self, name: str, pid: int) -> StageProcess | None:
        st = self.stages.get(name)
        if st is None or st.pid != pid:
            return None  # a Hello from a process we already replaced
        st.ready = True
        st.liveness = PeerLiveness(self.opts.heartbeat_timeout_s, last_seen=self.clock())
        return st

    def seen(self, name: str) -> None:
        st = self.stages.get(name)
        if st is not None:
            st.liveness.seen(self.clock())

    def manage(self) -> list[StageProcess]:
        """One pass: reap, kill the unresponsive, respawn. Returns respawned stages."""
        respawned = []
        now = self.clock()
        for st in self.stages.values():
            if st.proc is None:
                continue
            code = st.proc.poll()
            if code is None:
                self._check_deadline(st, now)
                continue
            st.last_exit = code
            log.warning("stage %s (pid %d) exited with code %d; restarting",
                        st.name, st.proc.pid, code)
            st.restarts += 1
            self.spawn(st)
            respawned.append(st)
        return respawned

    def _check_deadline(self, st: StageProcess, now: float) -> None:
        assert st.proc is not None
        if st.abort_sent_at is not None:
            if now - st.abort_sent_at >= ABORT_GRACE_S:
                self._signal(st, signal.SIGKILL)
            return
        if not st.liveness.expired(now):
            return
        what = "did not start" if not st.ready else "missed its heartbeat deadline"
        log.error("stage %s (pid %d) %s (silent %.1f s); dumping its stack and killing it",
                  st.name, st.proc.pid, what, st.liveness.silent_for(now))
        # A stopped process cannot dump: SIGCONT first. Only the main thread takes the
        # SIGABRT (see popen_stage). SIGKILL ends it after the grace either way.
        self._signal(st, signal.SIGCONT)
        self._signal(st, signal.SIGABRT)
        st.abort_sent_at = now

    def _signal(self, st: StageProcess, sig: int) -> None:
        if st.proc is not None and st.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.send_signal(st.proc.pid, sig)

    def wait_all(self, timeout_s: float) -> None:
        deadline = self.clock() + timeout_s
        for st in self.stages.values():
            if st.proc is None:
                continue
            try:
                st.proc.wait(max(0.0, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                log.warning("stage %s did not stop in time; killing it", st.name)
                self._signal(st, signal.SIGKILL)
                st.proc.wait()

    def pids(self) -> dict[str, int]:
        return {n: st.pid for n, st in self.stages.items() if st.pid is not None}
