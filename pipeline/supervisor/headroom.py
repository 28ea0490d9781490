"""How much headroom the runtime has left, measured on itself for admission control.

Every interval: the CPU each stage used since the last reading (psutil on the pids
the arbiter holds, as a share of one core, summed over a sharded stage's workers) and
playout's lateness, the p99 of how late its wake-ups were in the same interval (its
``tick_lateness`` window, of which only the samples new since the last reading count,
so a load that has passed stops counting at once; the worst of its workers').
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import numpy as np
import psutil

from ipc.schema import StatsReply
from ipc.shards import split_worker
from ipc.stats import TICK_LATENESS_COUNT, TICK_LATENESS_HOP
from pipeline.supervisor.admission import AdmissionPolicy, Headroom

# Fewer wake-ups than this in an interval say nothing about lateness (a few sessions
# cannot overload playout; one slow wake-up among ten is not a p99).
MIN_LATENESS_SAMPLES: Final = 100


class HeadroomMonitor:
    """``measure()`` takes a reading; ``latest`` is the last one."""

    def __init__(self, pids: Callable[[], Mapping[str, int]],
                 playout_stats: Callable[[], Awaitable[Mapping[str, StatsReply]]],
                 workers: Mapping[str, int] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pids, self._playout_stats, self._clock = pids, playout_stats, clock
        self._workers = dict(workers or {})
        self._cpu: dict[str, tuple[psutil.Process, float, float]] = {}  # at, cpu s
        self._lateness_seen: dict[str, int] = {}  # by playout worker
        self.latest = Headroom(workers=self._workers)

    async def measure(self, sessions: int) -> Headroom:
        cpu = self._stage_cpu()
        replies = await self._playout_stats()
        late = max((self._late_p99_ms(w, r) for w, r in replies.items()),
                   default=self.latest.late_p99_ms)
        self.latest = Headroom(cpu, late, sessions, self._workers)
        return self.latest

    async def watch(self, policy: AdmissionPolicy, sessions: Callable[[], int],
                    interval_s: float) -> None:
        """A reading every ``interval_s``, shown to ``policy`` (so its hysteresis follows
        the load between admissions)."""
        while True:
            await asyncio.sleep(interval_s)
            policy.observe(await self.measure(sessions()))

    def _stage_cpu(self) -> dict[str, float]:
        """Cores used per stage (its workers summed) since the last reading."""
        shares: dict[str, float] = {}
        for worker, pid in self._pids().items():
            last = self._cpu.get(worker)
            try:
                proc = last[0] if last is not None and last[0].pid == pid else psutil.Process(pid)
                times = proc.cpu_times()
            except psutil.Error:
                self._cpu.pop(worker, None)  # gone (restarting): no reading this time
                continue
            now, used = self._clock(), float(times.user + times.system)
            if last is not None and last[0] is proc and now > last[1]:
                stage = split_worker(worker)[0]
                shares[stage] = (shares.get(stage, 0.0)
                                 + max(0.0, used - last[2]) / (now - last[1]))
            self._cpu[worker] = (proc, now, used)
        return shares

    def _late_p99_ms(self, worker: str, reply: StatsReply) -> float:
        total = reply.counters.get(TICK_LATENESS_COUNT, 0)
        ring = reply.latency_us.get(TICK_LATENESS_HOP, [])
        seen = self._lateness_seen.get(worker, 0)
        new = min(total - seen, len(ring)) if total >= seen \
            else min(total, len(ring))  # a restarted playout counts from zero again
        self._lateness_seen[worker] = total
        if new < MIN_LATENESS_SAMPLES:
            return 0.0
        # Sample k of the run sits at k % len(ring): the newest ``new`` end at total - 1.
        idx = np.arange(total - new, total) % len(ring)
        return float(np.percentile(np.asarray(ring)[idx], 99)) / 1000.0
