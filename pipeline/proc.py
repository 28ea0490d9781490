"""Process-level helpers shared by every voxpipe child process."""

from __future__ import annotations

import ctypes
import os
import signal
from typing import Final

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
