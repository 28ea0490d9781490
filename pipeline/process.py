"""What every voxpipe child process does first: title, logging, signals, parent death."""

from __future__ import annotations

import ctypes
import faulthandler
import os
import signal
import sys
from typing import Final

from pipeline.logs import setup_logging

_PR_SET_PDEATHSIG: Final = 1


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
    die_with_parent(parent_pid)


def module_overrides(env_var: str) -> dict[str, str]:
    """``NAME=module`` pairs from ``env_var`` (comma-separated, spaces ignored): how a
    supervisor tells its children to load an out-of-tree transport or provider."""
    mapping: dict[str, str] = {}
    for entry in os.environ.get(env_var, "").split(","):
        name, sep, module = entry.partition("=")
        if sep and name.strip() and module.strip():
            mapping[name.strip()] = module.strip()
    return mapping
