"""Per-stage counters and hop-latency samples, reported on a StatsRequest."""

from __future__ import annotations

from collections import defaultdict
from typing import Final

import numpy as np

LATENCY_RESERVOIR: Final = 50_000
# Playout times how late each wake-up is (a hop) and counts them (a counter), so a
# reader can take only the samples new since its last reading (admission control).
TICK_LATENESS_HOP: Final = "tick_lateness"
TICK_LATENESS_COUNT: Final = "tick_lateness_samples"


class LatencyRecorder:
    """The last ``capacity`` latency samples of one hop, in microseconds.

    A preallocated ring: recording is one store, no allocation.
    """

    def __init__(self, capacity: int = LATENCY_RESERVOIR) -> None:
        self._buf = [0] * capacity  # a list: a store into it is half a numpy item's cost
        self._cap = capacity
        self._n = 0

    def record_ns(self, elapsed_ns: int) -> None:
        self._buf[self._n % self._cap] = elapsed_ns // 1000
        self._n += 1

    def samples(self) -> list[int]:
        return self._buf[: min(self._n, self._cap)]

    def __len__(self) -> int:
        return min(self._n, self._cap)


class StageStats:
    """Named counters (``frames_dropped.<reason>`` style), latency recorders, and the
    counters of each live session (what one caller suffered, not the stage's total)."""

    def __init__(self) -> None:
        self.counters: defaultdict[str, int] = defaultdict(int)
        self.latency: dict[str, LatencyRecorder] = {}
        self.sessions: dict[str, defaultdict[str, int]] = {}

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def count_session(self, session: str, name: str, n: int = 1) -> None:
        """Count ``name`` for ``session`` and in the stage's total."""
        self.counters[name] += n
        table = self.sessions.get(session)
        if table is None:
            table = self.sessions[session] = defaultdict(int)
        table[name] += n

    def forget_session(self, session: str) -> None:
        """The session ended: its table goes (its totals stay in the stage's counters)."""
        self.sessions.pop(session, None)

    def hop(self, name: str, capacity: int = LATENCY_RESERVOIR) -> LatencyRecorder:
        """The hop's recorder; ``capacity`` (its window) is set when it is first asked for."""
        rec = self.latency.get(name)
        if rec is None:
            rec = self.latency[name] = LatencyRecorder(capacity)
        return rec

    def session_snapshot(self) -> dict[str, dict[str, int]]:
        return {sid: dict(table) for sid, table in self.sessions.items()}

    def snapshot(self, hops: tuple[str, ...] = ()) -> tuple[dict[str, int],
                                                             dict[str, list[int]]]:
        """Counters and latency samples (of ``hops`` only, when given)."""
        return dict(self.counters), {k: v.samples() for k, v in self.latency.items()
                                     if not hops or k in hops}


def percentiles(samples: list[int]) -> dict[str, float]:
    """p50/p99/max of latency samples (us), as floats in milliseconds."""
    if not samples:
        return {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    arr = np.asarray(samples, dtype=np.float64) / 1000.0
    return {
        "n": int(arr.size),
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        "max_ms": float(arr.max()),
    }
