"""What every voxpipe child process does first: title, logging, signals, parent death,
and the stages' scheduling priority."""

from __future__ import annotations

import ctypes
import faulthandler
import logging
import os
import signal
import sys
from typing import Final

from pipeline.logs import setup_logging

_PR_SET_PDEATHSIG: Final = 1
# How much higher than the supervisor the stage processes run (a niceness step;
# ``VOXPIPE_STAGE_NICE=0`` keeps them level).
STAGE_NICE_ENV: Final = "VOXPIPE_STAGE_NICE"
DEFAULT_STAGE_NICE: Final = -10


def die_with_parent(parent_pid: int | None = None, sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``sig`` when our parent dies (Linux; no-op elsewhere).

    A SIGKILLed supervisor runs no cleanup, so its children must notice on their own.
    A parent that died while we were still starting (importing, under load) sent no
    signal: with ``parent_pid`` (the pid that spawned us), that case exits here.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if parent_pid is not None and os.getppid() != parent_pid:
        raise SystemExit(0)


def prepare_stage_process(name: str, log_level: str, parent_pid: int | None = None) -> None:
    """What every stage process does first, whatever its loop."""
    import setproctitle

    setproctitle.setproctitle(f"voxpipe: {name}")
    setup_logging(log_level, process=name)
    # The supervisor coordinates Ctrl-C for the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # SIGABRT from the supervisor on a missed deadline dumps every thread's stack.
    faulthandler.enable(file=sys.stderr, all_threads=True)
    take_abort_on_main_thread()
    die_with_parent(parent_pid)
    raise_priority()


def block_abort() -> set[int | signal.Signals]:
    """Block SIGABRT on this thread (and on every thread it starts meanwhile: a mask is
    inherited, through exec too); the mask it had. The supervisor's deadline SIGABRT is
    for a stage's main thread alone: faulthandler dumping from another thread read the
    main thread's frames while they changed and crashed (exit -11, no stack)."""
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGABRT})


def take_abort_on_main_thread() -> None:
    """Unblock SIGABRT on this (the main) thread only, after the imports that start
    helper threads: the supervisor spawns stages with it blocked, and those threads
    keep the mask they started with. faulthandler's dump is then written by the main
    thread, whose frames hold still meanwhile; one pending since spawn is taken now."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGABRT})


def stage_nice_step() -> int:
    """The niceness step the stages take from their parent: ``VOXPIPE_STAGE_NICE``, or
    -10 (a value that is not an integer is said in the log and ignored)."""
    try:
        return int(os.environ.get(STAGE_NICE_ENV, DEFAULT_STAGE_NICE))
    except ValueError:
        logging.getLogger("voxpipe").warning(
            "%s must be an integer niceness step; using %d", STAGE_NICE_ENV,
            DEFAULT_STAGE_NICE)
        return DEFAULT_STAGE_NICE


def renice(step: int, pid: int = 0) -> tuple[int, bool]:
    """Put process ``pid`` (0: this one) ``step`` niceness steps from this process's
    niceness, within -20..19: (the niceness asked for, whether it was allowed; lowering
    it needs CAP_SYS_NICE or an RLIMIT_NICE allowance)."""
    target = max(-20, min(19, os.getpriority(os.PRIO_PROCESS, 0) + step))
    try:
        os.setpriority(os.PRIO_PROCESS, pid, target)
    except PermissionError:
        return target, False
    return target, True


def raise_priority() -> int | None:
    """Run this stage ``VOXPIPE_STAGE_NICE`` niceness steps above its parent (default
    -10); the niceness it now has, or None if it was not allowed to.

    The stages are the hot audio path and use little CPU; what hurts them on a busy
    host is waiting for a core while other work runs (at 50 calls on 2 cores the edge
    used a quarter of a core and still fell 100 ms behind its deadlines). A higher
    priority lets them preempt the agent's own code, the bundled model server and
    other tenants. Lowering niceness needs CAP_SYS_NICE or an RLIMIT_NICE allowance
    (systemd: ``LimitNICE=-10``, or ``AmbientCapabilities=CAP_SYS_NICE``); without it
    the stage runs at its parent's priority, as before, and says so in its log.
    """
    step = stage_nice_step()
    if step == 0:
        return os.getpriority(os.PRIO_PROCESS, 0)
    target, allowed = renice(step)
    if not allowed:
        logging.getLogger("voxpipe").info(
            "running at normal priority: raising it needs CAP_SYS_NICE or "
            "RLIMIT_NICE (systemd LimitNICE=%d)", target)
        return None
    return target


def module_overrides(env_var: str) -> dict[str, str]:
    """``NAME=module`` pairs from ``env_var`` (comma-separated, spaces ignored): how a
    supervisor tells its children to load an out-of-tree transport or provider."""
    mapping: dict[str, str] = {}
    for entry in os.environ.get(env_var, "").split(","):
        name, sep, module = entry.partition("=")
        if sep and name.strip() and module.strip():
            mapping[name.strip()] = module.strip()
    return mapping
