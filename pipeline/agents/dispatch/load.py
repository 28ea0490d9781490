"""A worker's load, measured from voxpipe's own processes: what the LiveKit server
weighs its choice of worker by, and what marks the worker full.

Two signals, the worse one counts. CPU: the time the supervisor and every stage
process spent on a CPU since the last reading, as a share of the machine's CPUs
over that time (the machine's other tenants are not ours to report). Lateness:
the audio playout skipped because its process woke too late (``late_frames_skipped``:
it skips only past 10 frames behind, a gap a caller hears), against ``LATE_FULL_S``
per reading: a worker whose calls already glitch is full whatever its CPU says.
The stages are asked for their counters only: their latency reservoirs would cost
the realtime processes tens of ms to encode at every reading.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import psutil

from pipeline.supervisor.runtime import Runtime
from pipeline.supervisor.shards import by_stage

# Skipped playout audio per reading at which the worker counts as fully loaded.
LATE_FULL_S = 0.2
# The duration of one skipped frame (``SessionConfig.playout_frame_ms``,
# 20 ms by default).
LATE_FRAME_S = 0.02


def _cpu_seconds(pids: Mapping[str, int]) -> float:
    total = 0.0
    for pid in pids.values():
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue  # restarting: its time is counted again from its next reading
        total += times.user + times.system
    return total


class StageLoad:
    """``measure()`` reads the load since the previous reading, in [0, 1]."""

    def __init__(self, runtime: Runtime, cpus: int | None = None) -> None:
        self.runtime = runtime
        self.cpus = cpus or os.cpu_count() or 1
        self._last_t = time.monotonic()
        self._last_cpu = _cpu_seconds(self._pids())
        self._last_late: int | None = None

    def _pids(self) -> dict[str, int]:
        return {**self.runtime.pids(), "supervisor": os.getpid()}

    async def measure(self) -> float:
        now, cpu = time.monotonic(), _cpu_seconds(self._pids())
        elapsed = max(now - self._last_t, 1e-3)
        cpu_share = max(0.0, cpu - self._last_cpu) / (elapsed * self.cpus)
        self._last_t, self._last_cpu = now, cpu
        late_share = 0.0
        if self.runtime.arbiter is not None:
            replies = await self.runtime.stage_stats(timeout_s=1.0, counters_only=True)
            playout = by_stage(replies).get("playout")
            if playout is not None:
                late = playout.counters.get("late_frames_skipped", 0)
                if self._last_late is not None and late >= self._last_late:
                    late_share = (late - self._last_late) * LATE_FRAME_S / LATE_FULL_S
                self._last_late = late
        return min(1.0, max(cpu_share, late_share))


async def user_load(load_fnc: Callable[..., float], worker: Any) -> float:
    """``load_fnc()`` or ``load_fnc(worker)``, as livekit-agents calls it, clamped to [0, 1]."""
    params = inspect.signature(load_fnc).parameters
    value = load_fnc(worker) if params else load_fnc()
    if inspect.isawaitable(value):
        value = await value
    return min(1.0, max(0.0, float(value)))
