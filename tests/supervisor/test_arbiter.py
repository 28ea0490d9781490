"""The arbiter's policy on a fake clock with fake processes: reap and respawn, kill on
a missed deadline (SIGCONT + SIGABRT, SIGKILL after the grace), boot timeout, crash
loop window, stale Hellos. Real processes and signals: tests/faults/."""

from __future__ import annotations

import os
import signal

import pytest

from pipeline.supervisor.arbiter import ABORT_GRACE_S, STAGES, Arbiter, ArbiterOptions, CrashLoop
from tests.supervisor.fakes import FakeClock, FakeProcesses, fake_arbiter

OPTS = ArbiterOptions(heartbeat_interval_s=0.5, heartbeat_timeout_s=3.0, boot_timeout_s=15.0,
                      crash_loop_spawns=5, crash_loop_window_s=10.0)
EPS = 1e-3


def started_and_ready(opts: ArbiterOptions = OPTS) -> tuple[Arbiter, FakeClock, FakeProcesses]:
    """Every stage spawned and said Hello."""
    arbiter, clock, procs = fake_arbiter(opts)
    arbiter.spawn_all()
    for name, st in arbiter.stages.items():
        assert st.pid is not None and arbiter.mark_ready(name, st.pid) is st
    return arbiter, clock, procs


def keep_alive(arbiter: Arbiter, *names: str) -> None:
    for name in names:
        arbiter.seen(name)


def test_spawn_all_starts_each_stage_module_with_its_runtime_dir() -> None:
    arbiter, _, procs = fake_arbiter(OPTS)
    arbiter.spawn_all()
    assert [p.name for p in procs.started] == list(STAGES)
    for p in procs.started:
        assert p.command[1:3] == ["-m", f"pipeline.stages.{p.name}"]
        args = dict(zip(p.command[3::2], p.command[4::2], strict=True))
        assert args["--runtime-dir"] == "/run/voxpipe-test"
        assert args["--parent-pid"] == str(os.getpid())
        assert float(args["--supervisor-timeout"]) == 2 * OPTS.heartbeat_timeout_s
    assert arbiter.pids() == {p.name: p.pid for p in procs.started}
    assert not any(st.ready for st in arbiter.stages.values())


def test_an_exited_stage_is_reaped_and_respawned() -> None:
    arbiter, clock, procs = started_and_ready()
    [old] = procs.of("dsp")
    old.exit(1)
    clock.advance(0.05)
    respawned = arbiter.manage()
    st = arbiter.stages["dsp"]
    [_, new] = procs.of("dsp")
    assert respawned == [st]
    assert (st.pid, st.restarts, st.last_exit, st.ready) == (new.pid, 1, 1, False)
    assert st.spawned_at == clock.now and list(st.spawns)[-1] == clock.now
    assert procs.sent == []  # reaped, not killed
    assert len(procs.started) == len(STAGES) + 1  # nothing else restarted
    assert all(s.restarts == 0 for n, s in arbiter.stages.items() if n != "dsp")
    assert arbiter.manage() == []  # the new one is alive: nothing more to do


def test_a_silent_stage_gets_sigabrt_and_sigcont_then_sigkill_after_the_grace() -> None:
    arbiter, clock, procs = started_and_ready()
    others = [n for n in STAGES if n != "dsp"]
    [hung] = procs.of("dsp")
    clock.advance(OPTS.heartbeat_timeout_s)
    keep_alive(arbiter, *others)
    assert arbiter.manage() == [] and procs.sent == []  # at the deadline, not past it
    clock.advance(EPS)
    assert arbiter.manage() == []
    assert procs.sent == [("dsp", hung.pid, signal.SIGCONT), ("dsp", hung.pid, signal.SIGABRT)]
    assert arbiter.stages["dsp"].abort_sent_at == clock.now
    clock.advance(ABORT_GRACE_S - EPS)
    keep_alive(arbiter, *others)
    arbiter.manage()
    assert hung.signals == [signal.SIGCONT, signal.SIGABRT]  # still in the grace
    clock.advance(EPS)
    keep_alive(arbiter, *others)
    assert arbiter.manage() == []
    assert hung.signals == [signal.SIGCONT, signal.SIGABRT, signal.SIGKILL]
    assert hung.returncode == -signal.SIGKILL
    respawned = arbiter.manage()
    st = arbiter.stages["dsp"]
    assert respawned == [st] and st.restarts == 1 and st.last_exit == -signal.SIGKILL
    assert st.pid != hung.pid and st.abort_sent_at is None and not st.ready
    assert all(procs.of(n)[0].signals == [] for n in others)


def test_a_stage_that_dumps_its_stack_and_dies_on_sigabrt_is_not_sigkilled() -> None:
    arbiter, clock, procs = started_and_ready()
    [stage] = procs.of("dsp")
    stage.dies_on_abort = True
    others = [n for n in STAGES if n != "dsp"]
    clock.advance(OPTS.heartbeat_timeout_s + EPS)
    keep_alive(arbiter, *others)
    assert arbiter.manage() == []
    assert stage.signals == [signal.SIGCONT, signal.SIGABRT]  # dead at once
    clock.advance(ABORT_GRACE_S)
    keep_alive(arbiter, *others)
    assert arbiter.manage() == [arbiter.stages["dsp"]]
    assert stage.signals == [signal.SIGCONT, signal.SIGABRT]  # no SIGKILL for the dead
    assert arbiter.stages["dsp"].last_exit == -signal.SIGABRT
    assert procs.sent == [("dsp", stage.pid, signal.SIGCONT), ("dsp", stage.pid, signal.SIGABRT)]


def test_traffic_keeps_a_stage_alive() -> None:
    arbiter, clock, procs = started_and_ready()
    for _ in range(10):
        clock.advance(OPTS.heartbeat_timeout_s * 0.9)
        keep_alive(arbiter, *STAGES)
        assert arbiter.manage() == []
    assert procs.sent == [] and len(procs.started) == len(STAGES)


def test_a_stage_that_never_says_hello_is_killed_after_the_boot_timeout() -> None:
    arbiter, clock, procs = fake_arbiter(OPTS)
    arbiter.spawn_all()
    for name, st in arbiter.stages.items():
        if name != "dsp":
            assert st.pid is not None
            arbiter.mark_ready(name, st.pid)
    [mute] = procs.of("dsp")
    # Booting is judged against boot_timeout_s, not the (shorter) heartbeat timeout.
    for _ in range(3):
        clock.advance(OPTS.boot_timeout_s / 3)
        keep_alive(arbiter, *(n for n in STAGES if n != "dsp"))
        arbiter.manage()
    assert procs.sent == []
    clock.advance(EPS)
    arbiter.manage()
    assert mute.signals == [signal.SIGCONT, signal.SIGABRT]
    clock.advance(ABORT_GRACE_S)
    arbiter.manage()
    assert mute.signals[-1] == signal.SIGKILL
    assert arbiter.manage() == [arbiter.stages["dsp"]]
    assert arbiter.stages["dsp"].restarts == 1


def test_a_hello_switches_the_deadline_to_the_heartbeat_timeout() -> None:
    arbiter, clock, procs = fake_arbiter(OPTS)
    arbiter.spawn_all()
    clock.advance(OPTS.boot_timeout_s - 1)  # slow to boot, within its time
    st = arbiter.stages["dsp"]
    assert st.pid is not None and arbiter.mark_ready("dsp", st.pid) is st and st.ready
    clock.advance(OPTS.heartbeat_timeout_s + EPS)
    arbiter.manage()
    assert procs.of("dsp")[0].signals == [signal.SIGCONT, signal.SIGABRT]


def test_a_stale_hello_from_a_replaced_process_is_ignored() -> None:
    arbiter, _, procs = started_and_ready()
    [old] = procs.of("dsp")
    old.exit(-signal.SIGKILL)
    arbiter.manage()
    st = arbiter.stages["dsp"]
    assert arbiter.mark_ready("dsp", old.pid) is None and not st.ready
    assert arbiter.mark_ready("no-such-stage", old.pid) is None
    assert st.pid is not None and arbiter.mark_ready("dsp", st.pid) is st and st.ready


def test_more_spawns_than_allowed_within_the_window_is_a_crash_loop() -> None:
    arbiter, clock, procs = fake_arbiter(OPTS)
    procs.crash_at_boot["dsp"] = 3
    arbiter.spawn_all()  # spawn 1
    step = OPTS.crash_loop_window_s / (OPTS.crash_loop_spawns + 1)
    for _ in range(OPTS.crash_loop_spawns - 1):  # spawns 2..5: within the limit
        clock.advance(step)
        assert arbiter.manage() == [arbiter.stages["dsp"]]
    assert arbiter.fault is None
    clock.advance(step)
    with pytest.raises(CrashLoop, match=r"stage dsp keeps dying \(last exit code 3\)") as exc:
        arbiter.manage()  # spawn 6 within 10 s
    assert arbiter.fault == str(exc.value)
    assert f"{OPTS.crash_loop_spawns} starts in 10 s" in str(exc.value)
    assert len(procs.of("dsp")) == OPTS.crash_loop_spawns  # the 6th was never started
    assert all(len(procs.of(n)) == 1 for n in STAGES if n != "dsp")


def test_the_same_spawns_spread_beyond_the_window_are_not_a_crash_loop() -> None:
    arbiter, clock, procs = fake_arbiter(OPTS)
    procs.crash_at_boot["dsp"] = 3
    arbiter.spawn_all()
    step = OPTS.crash_loop_window_s / OPTS.crash_loop_spawns + EPS
    for _ in range(4 * OPTS.crash_loop_spawns):
        clock.advance(step)
        keep_alive(arbiter, *STAGES)
        assert arbiter.manage() == [arbiter.stages["dsp"]]
    assert arbiter.fault is None
    assert arbiter.stages["dsp"].restarts == 4 * OPTS.crash_loop_spawns
    assert len(procs.of("dsp")) == 4 * OPTS.crash_loop_spawns + 1


def test_wait_all_kills_a_stage_that_does_not_stop() -> None:
    arbiter, _, procs = started_and_ready()
    for p in procs.started:
        if p.name != "dsp":
            p.exit(0)
    arbiter.wait_all(1.0)
    [stuck] = procs.of("dsp")
    assert stuck.signals == [signal.SIGKILL] and stuck.returncode == -signal.SIGKILL
    assert all(p.signals == [] for p in procs.started if p.name != "dsp")
