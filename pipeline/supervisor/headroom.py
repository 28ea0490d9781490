"""How much headroom the runtime has left, measured on itself for admission control.

Every interval: the CPU each stage process used since the last reading (psutil on
the pids the arbiter holds, as a share of one core) and playout's lateness, the
p99 of how late its wake-ups were in the same interval (its ``tick_lateness``
window, of which only the samples new since the last reading count, so a load that
has passed stops counting at once).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import numpy as np
import psutil

from ipc.schema import StatsReply
from ipc.stats import TICK_LATENESS_COUNT, TICK_LATENESS_HOP
from pipeline.supervisor.admission import AdmissionPolicy, Headroom

# Fewer wake-ups than this in an interval say nothing about lateness (a few sessions
# cannot overload playout; one slow wake-up among ten is not a p99).
MIN_LATENESS_SAMPLES: Final = 100


class HeadroomMonitor:
    """``measure()`` takes a reading; ``latest`` is the last one."""

    def __init__(self, pids: Callable[[], Mapping[str, int]],
                 playout_stats: Callable[[], Awaitable[StatsReply | None]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pids, self._playout_stats, self._clock = pids, playout_stats, clock
        self._cpu: dict[str, tuple[psutil.Process, float, float]] = {}  # at, cpu s
        self._lateness_seen = 0
        self.latest = Headroom()

    async def measure(self, sessions: int) -> Headroom:
        cpu = self._stage_cpu()
        late = self._late_p99_ms(await self._playout_stats())
        self.latest = Headroom(cpu, late, sessions)
        return self.latest

    async def watch(self, policy: AdmissionPolicy, sessions: Callable[[], int],
                    interval_s: float) -> None:
        """A reading every ``interval_s``, shown to ``policy`` (so its hysteresis follows
        the load between admissions)."""
        while True:
            await asyncio.sleep(interval_s)
            policy.observe(await self.measure(sessions()))

    def _stage_cpu(self) -> dict[str, float]:
        shares = {}
        for stage, pid in self._pids().items():
            last = self._cpu.get(stage)
            try:
                proc = last[0] if last is not None and last[0].pid == pid else psutil.Process(pid)
                times = proc.cpu_times()
            except psutil.Error:
                self._cpu.pop(stage, None)  # gone (restarting): no reading this time
                continue
            now, used = self._clock(), float(times.user + times.system)
            if last is not None and last[0] is proc and now > last[1]:
                shares[stage] = max(0.0, used - last[2]) / (now - last[1])
            self._cpu[stage] = (proc, now, used)
        return shares

    def _late_p99_ms(self, reply: StatsReply | None) -> float:
        if reply is None:
            return self.latest.late_p99_ms
        total = reply.counters.get(TICK_LATENESS_COUNT, 0)
        ring = reply.latency_us.get(TICK_LATENESS_HOP, [])
        new = min(total - self._lateness_seen, len(ring)) if total >= self._lateness_seen \
            else min(total, len(ring))  # a restarted playout counts from zero again
        self._lateness_seen = total
        if new < MIN_LATENESS_SAMPLES:
            return 0.0
        # Sample k of the run sits at k % len(ring): the newest ``new`` end at total - 1.
        idx = np.arange(total - new, total) % len(ring)
        return float(np.percentile(np.asarray(ring)[idx], 99)) / 1000.0
