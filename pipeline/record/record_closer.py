"""Ended sessions' records, finalized off the playout loop.

``SessionRecord.finalize`` reads both raw tracks and writes ``conversation.wav``: about
4 MB of file I/O for a 43 s call. On the playout loop that held every other session's
clock: at 350 sessions, calls ending in the same few wake-ups stalled playout past its
late-frame limit three times, and about 90 playing replies skipped 200-400 ms each. One
background thread does it instead (the reads and writes release the GIL); the loop
collects the finished ones (:meth:`RecordCloser.finished`) and then logs the session's
closing event, so ``session_closed`` still means the WAV is there.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from pipeline.process import block_abort
from pipeline.record.session_record import SessionRecord

K = TypeVar("K")


@dataclass
class ClosedRecord(Generic[K]):
    """One finalized record: its owner's key, its frame count, or why it failed."""

    key: K
    frames: int
    error: Exception | None


class RecordCloser(Generic[K]):
    """Finalizes records on one thread, in the order they were handed over."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None  # started with the first record
        self._pending: deque[tuple[K, Future[int]]] = deque()

    def __len__(self) -> int:
        return len(self._pending)

    def close(self, key: K, record: SessionRecord) -> None:
        """Finalize ``record`` in the background (its event log stays open)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="record-close",
                                            initializer=block_abort)
        self._pending.append((key, self._pool.submit(record.finalize)))

    def finished(self, wait: bool = False) -> list[ClosedRecord[K]]:
        """The records finalized since the last call, in order (``wait``: all of them,
        waiting for those still being written)."""
        done: list[ClosedRecord[K]] = []
        while self._pending:
            key, future = self._pending[0]
            if not wait and not future.done():
                break  # in order: a later one waits for the one before it
            self._pending.popleft()
            try:
                done.append(ClosedRecord(key, future.result(), None))
            except Exception as exc:  # a full disk, or a bug: reported, never raised here
                done.append(ClosedRecord(key, 0, exc))
        return done

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
