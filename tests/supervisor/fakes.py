"""Fake clock and fake stage processes for the supervisor's policy tests: no process
is started, no time passes unless a test moves the clock."""

from __future__ import annotations

import itertools
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.supervisor.arbiter import Arbiter, ArbiterOptions

_pids = itertools.count(1000)


@dataclass
class FakeClock:
    """Monotonic seconds that only move when told."""

    now: float = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeProcess:
    """A started stage: alive until it exits or is SIGKILLed."""

    name: str
    command: list[str]
    pid: int = field(default_factory=lambda: next(_pids))
    returncode: int | None = None
    dies_on_abort: bool = False  # a live loop dumps its stack and dies; a hung one does not
    signals: list[int] = field(default_factory=list)

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.command, timeout or 0.0)
        return self.returncode

    def exit(self, code: int) -> None:
        self.returncode = code


@dataclass
class FakeProcesses:
    """The spawner and signal sender an Arbiter is given, and what they did."""

    # Stage name -> exit code each new process of it has already exited with (boot crash).
    crash_at_boot: dict[str, int] = field(default_factory=dict)
    started: list[FakeProcess] = field(default_factory=list)
    sent: list[tuple[str, int, int]] = field(default_factory=list)  # (stage, pid, signal)

    def spawn(self, command: list[str]) -> FakeProcess:
        name = command[command.index("-m") + 1].rsplit(".", 1)[-1]
        if "--worker" in command:  # one of a sharded stage's workers: dsp.1
            name = f"{name}.{command[command.index('--worker') + 1]}"
        proc = FakeProcess(name, command, returncode=self.crash_at_boot.get(name))
        self.started.append(proc)
        return proc

    def send_signal(self, pid: int, sig: int) -> None:
        proc = next(p for p in self.started if p.pid == pid)
        if proc.returncode is not None:
            raise ProcessLookupError(pid)
        proc.signals.append(sig)
        self.sent.append((proc.name, pid, sig))
        if sig == signal.SIGKILL or (sig == signal.SIGABRT and proc.dies_on_abort):
            proc.returncode = -sig

    def of(self, name: str) -> list[FakeProcess]:
        """Every process started for stage ``name``, oldest first."""
        return [p for p in self.started if p.name == name]


def fake_arbiter(opts: ArbiterOptions | None = None, workers: Mapping[str, int] | None = None
                 ) -> tuple[Arbiter, FakeClock, FakeProcesses]:
    clock, procs = FakeClock(), FakeProcesses()
    arbiter = Arbiter("/run/voxpipe-test", opts or ArbiterOptions(), clock=clock,
                      spawn_process=procs.spawn, send_signal=procs.send_signal,
                      workers=workers)
    return arbiter, clock, procs
