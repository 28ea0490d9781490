"""Which worker of each sharded stage serves a session, and how many workers there are.

The supervisor picks a session's workers once, at its start (the least-loaded worker
of each sharded stage, the lowest index on a tie), puts them in the session's
``SessionConfig.workers`` (so every stage routes the session's messages there, and a
restarted worker gets back exactly its own sessions) and frees them at its close.

The default worker counts follow the cores this process may run on: dsp and model,
the stages that measured the most CPU per session (issue 15: 0.24 % of a core each
at 160 sessions), get one worker per four cores; capture, playout and edge one each
(they cost less, and a stage is sharded on request: ``--workers playout=2``). So a
2- or 3-core host runs one process per stage, as before, and a 32-core media server
8 dsp and 8 model workers. Nothing here was measured on a many-core host: the rule
is a starting point (``VOXPIPE_WORKERS`` or ``--workers`` overrides it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from ipc.schema import SessionConfig, StatsReply
from ipc.shards import check_workers, parse_workers, split_worker, worker_name

#: "auto" (or unset): the default from the cores; "off": one worker each;
#: "dsp=2,model=2": those counts (stages not named: one worker)
WORKERS_ENV: Final = "VOXPIPE_WORKERS"
CORES_PER_WORKER: Final = 4
# Every stage whose cost grows with the sessions (steady state, % of a core per session
# at 300 sessions, benchmarks/density.py: model 0.13, playout 0.11, dsp 0.08, capture
# 0.05): with dsp and model alone sharded, one playout would cap a big host near 900
# sessions. The edge keeps one worker (live connections are handed to it by name).
DEFAULT_SHARDED: Final = ("capture", "dsp", "model", "playout")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(cores: int | None = None) -> dict[str, int]:
    """One worker of each DEFAULT_SHARDED stage per ``CORES_PER_WORKER`` cores (at
    least one)."""
    n = max(1, (cores if cores is not None else available_cores()) // CORES_PER_WORKER)
    return check_workers({stage: n for stage in DEFAULT_SHARDED})


def workers_from(value: str, source: str = WORKERS_ENV) -> dict[str, int]:
    """The counts ``value`` asks for ("auto", "off" or "dsp=2,model=2"); ValueError
    (one line, naming ``source``) on a value it cannot read."""
    value = value.strip().lower()
    if value in ("", "auto"):
        return default_workers()
    if value == "off":
        return check_workers({})
    try:
        return parse_workers(value)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None


def workers_from_env() -> dict[str, int]:
    """The counts ``VOXPIPE_WORKERS`` asks for (unset: the default from the cores)."""
    return workers_from(os.environ.get(WORKERS_ENV, ""))


class ShardMap:
    """Each sharded stage's per-worker session count; a session's assignment."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self.counts = check_workers(counts)
        self._load = {stage: [0] * n for stage, n in self.counts.items() if n > 1}
        self._of: dict[str, dict[str, int]] = {}

    def assign(self, session: str) -> dict[str, int]:
        """The least-loaded worker of every sharded stage for ``session`` (counted)."""
        pick = {}
        for stage, load in self._load.items():
            index = min(range(len(load)), key=load.__getitem__)
            load[index] += 1
            pick[stage] = index
        self._of[session] = pick
        return pick

    def release(self, session: str) -> None:
        for stage, index in self._of.pop(session, {}).items():
            self._load[stage][index] -= 1

    def worker(self, stage: str, cfg: SessionConfig | None) -> str:
        """The worker of ``stage`` serving the session of ``cfg`` (None: the first)."""
        index = cfg.workers.get(stage, 0) if cfg is not None else 0
        return worker_name(stage, index, self.counts[stage])

    def serves(self, worker: str, cfg: SessionConfig) -> bool:
        """Whether ``worker`` (a worker name) serves the session of ``cfg``."""
        stage, index = split_worker(worker)
        return self.counts.get(stage, 1) <= 1 or cfg.workers.get(stage, 0) == index

    def expand(self, names: tuple[str, ...]) -> list[str]:
        """Worker names for ``names`` (a stage stands for all its workers)."""
        out: list[str] = []
        for name in names:
            stage, _ = split_worker(name)
            if "." in name or self.counts.get(stage, 1) <= 1:
                out.append(name)
            else:
                out.extend(worker_name(stage, i, self.counts[stage])
                           for i in range(self.counts[stage]))
        return out


def by_stage(replies: Mapping[str, StatsReply]) -> dict[str, StatsReply]:
    """Workers' stats replies folded into one per stage (counters summed, latency
    samples and per-session counters joined): for readers that want one figure a stage."""
    merged: dict[str, StatsReply] = {}
    for name, reply in replies.items():
        stage, _ = split_worker(name)
        have = merged.get(stage)
        if have is None:
            merged[stage] = StatsReply(reply.request_id, stage, reply.pid,
                                       dict(reply.counters),
                                       {k: list(v) for k, v in reply.latency_us.items()},
                                       dict(reply.sessions))
            continue
        for key, value in reply.counters.items():
            have.counters[key] = have.counters.get(key, 0) + value
        for hop, samples in reply.latency_us.items():
            have.latency_us.setdefault(hop, []).extend(samples)
        have.sessions.update(reply.sessions)
    return merged


def sum_counters(by_worker: Mapping[str, Mapping[str, int]], stage: str) -> dict[str, int]:
    """The counters of ``stage``'s workers (keyed by worker name), summed."""
    total: dict[str, int] = {}
    for worker, values in by_worker.items():
        if split_worker(worker)[0] == stage:
            for key, value in values.items():
                total[key] = total.get(key, 0) + value
    return total
