"""Which sessions are due, without looking at every session on every wake-up.

A stage with N sessions wakes up far more often than once per frame period
(sessions start at different times); scanning all N each time is O(N) per
wake-up. A heap touches only the sessions that are due.
"""

from __future__ import annotations

import heapq


class DeadlineQueue:
    """Keys ordered by due time (monotonic ns); each key is scheduled at most once."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, str]] = []
        self._due: dict[str, int] = {}

    def schedule(self, key: str, due_ns: int) -> None:
        """(Re)schedule ``key``; an older entry for it is ignored when it surfaces."""
        self._due[key] = due_ns
        heapq.heappush(self._heap, (due_ns, key))

    def cancel(self, key: str) -> None:
        self._due.pop(key, None)

    def pop_due(self, now_ns: int) -> list[str]:
        """Every key due at or before ``now_ns``, each once, removed from the queue."""
        out = []
        heap = self._heap
        while heap and heap[0][0] <= now_ns:
            due, key = heapq.heappop(heap)
            if self._due.get(key) == due:
                del self._due[key]
                out.append(key)
        return out

    def next_due(self) -> int | None:
        heap = self._heap
        while heap and self._due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)  # stale: cancelled or rescheduled
        return heap[0][0] if heap else None

    def __len__(self) -> int:
        return len(self._due)
