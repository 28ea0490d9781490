"""Marks as the clock of what the caller heard.

The far end of a media stream buffers the audio it is sent and plays it at its own
pace, so what playout paced out is not what the caller heard. Each agent frame the
edge sends is followed by a mark named after the frame's playout tick; the far end
echoes a mark once the audio before it has played. :class:`MarkClock` keeps the marks
sent and not echoed yet, in order: an echo says every frame up to its tick was heard.
A barge-in (``clear``) drops the pending marks: the far end echoes them as it empties
its buffer, and that audio was never heard, so an echo of a mark not pending is stale
and moves nothing. Pure logic, no I/O.
"""

from __future__ import annotations

from collections import deque
from typing import Final

PREFIX: Final = "vp"
# Marks pending past this (a far end that never echoes): the oldest are forgotten.
MAX_PENDING: Final = 3000  # a minute of 20 ms frames


def mark_name(seq: int) -> str:
    return f"{PREFIX}{seq}"


class MarkClock:
    """The marks sent and not echoed; the last playout tick the far end played."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self.pending: deque[tuple[str, int]] = deque()
        self.max_pending = max_pending
        self.heard_seq: int | None = None
        self.echoed = 0
        self.stale = 0  # echoes of marks already cleared (or never sent)
        self.forgotten = 0

    def sent(self, seq: int) -> str:
        """The name of the mark that follows playout tick ``seq``'s audio."""
        name = mark_name(seq)
        self.pending.append((name, seq))
        if len(self.pending) > self.max_pending:
            self.pending.popleft()
            self.forgotten += 1
        return name

    def echo(self, name: str) -> int | None:
        """The far end played up to mark ``name``: the tick heard now, or None for a
        stale echo. The far end plays in order, so marks before it were played too."""
        if not any(pending == name for pending, _ in self.pending):
            self.stale += 1
            return None
        while True:
            pending, seq = self.pending.popleft()
            if pending == name:
                break
        self.echoed += 1
        self.heard_seq = seq
        return seq

    def clear(self) -> int:
        """Barge-in: the far end drops what it buffers; the marks dropped."""
        n = len(self.pending)
        self.pending.clear()
        return n

    @property
    def unheard_frames(self) -> int:
        return len(self.pending)
