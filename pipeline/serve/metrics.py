"""``GET /metrics``: the server's calls and the stages' health, in Prometheus text.

Calls (active, total, refused) and barge-ins are counted by the server as they
happen; what the stages know (CPU, hop latencies, playout's glitch counters) is
read at scrape time: psutil on the stage pids, ``Runtime.stage_stats()``. A sharded
stage's workers are labelled apart (``stage="dsp.1"``); the glitch totals sum them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import psutil
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ipc.schema import GLITCH_CAUSES, StatsReply
from ipc.stats import percentiles
from pipeline.supervisor.admission import REFUSAL_REASONS as ADMISSION_REASONS
from pipeline.supervisor.runtime import Runtime
from pipeline.supervisor.shards import sum_counters

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# playout's counters of what a caller hears as a glitch.
GLITCH_COUNTERS = ("underrun_frames", "late_frames_skipped")
# Why an offer is refused: the server's own (full, shutting_down), admission control's.
REFUSAL_REASONS = ("full", "shutting_down", *ADMISSION_REASONS)
QUANTILES = (("0.5", "p50_ms"), ("0.99", "p99_ms"))


@dataclass
class StageSnapshot:
    """What the stages reported at one scrape."""

    cpu_s: dict[str, float] = field(default_factory=dict)
    latency_us: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    counters: dict[str, dict[str, int]] = field(default_factory=dict)  # by stage

    @property
    def playout_counters(self) -> dict[str, int]:
        """playout's counters (a sharded playout's workers summed)."""
        return sum_counters(self.counters, "playout")

    @classmethod
    def of(cls, runtime: Runtime, replies: Mapping[str, StatsReply]) -> StageSnapshot:
        """The stages' replies, plus the supervisor's own (its control round trips)."""
        pids = {**runtime.pids(), "supervisor": os.getpid()}
        latency = {stage: reply.latency_us for stage, reply in replies.items()}
        latency["supervisor"] = runtime.stats.snapshot()[1]
        return cls(_cpu_seconds(pids), latency,
                   {stage: dict(reply.counters) for stage, reply in replies.items()})


class _StageCollector(Collector):
    """Yields the last snapshot taken for a scrape (collect() itself cannot await)."""

    def __init__(self) -> None:
        self.snapshot = StageSnapshot()

    def collect(self) -> Iterable[Metric]:
        cpu = CounterMetricFamily("voxpipe_stage_cpu_seconds",
                                  "CPU time (user + system) of each process since it started",
                                  labels=["stage"])
        for stage, seconds in sorted(self.snapshot.cpu_s.items()):
            cpu.add_metric([stage], seconds)
        hops = GaugeMetricFamily("voxpipe_hop_latency_seconds",
                                 "latency of each stage's hops over its recent samples",
                                 labels=["stage", "hop", "quantile"])
        glitches = {name: CounterMetricFamily(f"voxpipe_playout_{name}",
                                              f"playout's {name} since it started")
                    for name in GLITCH_COUNTERS}
        for stage, latency in sorted(self.snapshot.latency_us.items()):
            for hop, samples in sorted(latency.items()):
                if not samples:
                    continue
                p = percentiles(samples)
                for quantile, key in QUANTILES:
                    hops.add_metric([stage, hop, quantile], p[key] / 1000.0)
        for name, family in glitches.items():
            family.add_metric([], self.snapshot.playout_counters.get(name, 0))
        by_cause = CounterMetricFamily(
            "voxpipe_glitch_frames", "playout frames of agent audio that should have played "
            "and did not, by cause (underrun: not arrived; late: playout fell behind)",
            labels=["cause"])
        for cause in GLITCH_CAUSES:
            by_cause.add_metric([cause],
                                self.snapshot.playout_counters.get(f"glitch_frames.{cause}", 0))
        # Every stage's own counters (frames in and out, drops by cause, the edge's
        # connections' packets and track frames): what an operator reads first when
        # calls sound wrong.
        counters = CounterMetricFamily("voxpipe_stage_events",
                                       "each stage's own counters since it started",
                                       labels=["stage", "counter"])
        for stage, values in sorted(self.snapshot.counters.items()):
            for name, value in sorted(values.items()):
                counters.add_metric([stage, name], value)
        yield cpu
        yield hops
        yield from glitches.values()
        yield by_cause
        yield counters


class ServerMetrics:
    """The registry ``/metrics`` renders; the counters the call handling updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls_active = Gauge("voxpipe_calls_active", "calls in progress",
                                  registry=self.registry)
        self.calls_total = Counter("voxpipe_calls_total", "calls admitted",
                                   registry=self.registry)
        self.calls_refused = Counter(
            "voxpipe_calls_refused_total", "offers refused, by reason: full (--max-sessions), "
            "shutting_down, or admission control's (cpu, lateness, max_sessions)",
            labelnames=["reason"], registry=self.registry)
        for reason in REFUSAL_REASONS:  # every reason reads 0 before its first refusal
            self.calls_refused.labels(reason=reason)
        self.barge_ins = Counter("voxpipe_barge_ins_total",
                                 "agent replies cut short by the caller",
                                 registry=self.registry)
        self._stages = _StageCollector()
        self.registry.register(self._stages)

    async def render(self, runtime: Runtime) -> bytes:
        """The exposition, with the stages read now."""
        replies = await runtime.stage_stats(timeout_s=1.0) if runtime.arbiter else {}
        self._stages.snapshot = StageSnapshot.of(runtime, replies)
        return generate_latest(self.registry)


def _cpu_seconds(pids: Mapping[str, int]) -> dict[str, float]:
    found = {}
    for stage, pid in pids.items():
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue  # gone (restarting): no sample this scrape
        found[stage] = float(times.user + times.system)
    return found
