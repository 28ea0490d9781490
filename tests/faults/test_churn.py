"""Start/stop churn: every cycle leaves no process, socket file or descriptor behind."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import psutil
import pytest

from pipeline.supervisor.arbiter import STAGES, ArbiterOptions
from pipeline.supervisor.runtime import Runtime, RuntimeOptions

CYCLES = 50


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.timeout(600)  # 50 cycles of 6 processes: slow on a loaded machine
def test_start_stop_churn_leaks_nothing(tmp_path: Path) -> None:
    opts = RuntimeOptions(arbiter=ArbiterOptions(heartbeat_interval_s=0.2),
                          runtime_parent=str(tmp_path))
    seen_pids: set[int] = set()

    async def cycle() -> None:
        async with Runtime(opts) as rt:
            seen_pids.update(rt.pids().values())
            assert len(rt.pids()) == len(STAGES) == 5

    asyncio.run(cycle())  # warm-up: imports, first sockets
    fds_before = _fds()
    threads_before = psutil.Process().num_threads()
    # Other fixtures (the shared model server) may have children of ours running.
    children_before = {c.pid for c in psutil.Process().children(recursive=True)}
    for _ in range(CYCLES):
        asyncio.run(cycle())
    assert len(seen_pids) == len(STAGES) * (CYCLES + 1)
    assert not [p for p in seen_pids if psutil.pid_exists(p)]
    assert list(tmp_path.iterdir()) == []
    assert _fds() <= fds_before + 2
    assert psutil.Process().num_threads() <= threads_before + 1
    assert {c.pid for c in psutil.Process().children(recursive=True)} <= children_before
