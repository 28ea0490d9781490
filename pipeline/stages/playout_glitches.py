"""Glitch runs of one session: agent audio that should have played and did not.

Pure logic, no I/O. Playout reports each frame it plays (glitched or not) and each
skip of its clock; consecutive glitched frames of one cause are folded into one run,
so a caller's half-second gap is one ``PlayoutGlitch`` event, not 25. A run closes
when a frame plays clean, the cause changes, the session goes idle or ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipc.schema import PlayoutGlitch


@dataclass
class GlitchRun:
    """An open run: where it started on the timeline and how many frames it has."""

    cause: str
    frames: int
    position: int  # output sample of its first frame
    slot_ms: float  # the same place, in ms of the session timeline
    item_id: str

    def event(self) -> PlayoutGlitch:
        return PlayoutGlitch(self.cause, self.frames, self.position, self.item_id)


class GlitchRuns:
    """Folds one session's glitched frames into runs; returns each run as it closes."""

    def __init__(self) -> None:
        self.open: GlitchRun | None = None

    def frame(self, cause: str | None, position: int, slot_ms: float,
              item_id: str) -> GlitchRun | None:
        """One frame played; ``cause`` None if it played clean. The run it closed, if any."""
        run = self.open
        if run is not None and run.cause == cause:
            run.frames += 1
            return None
        self.open = None if cause is None else GlitchRun(cause, 1, position, slot_ms, item_id)
        return run

    def skipped(self, frames: int, position: int, slot_ms: float,
                item_id: str) -> list[GlitchRun]:
        """The clock jumped ``frames`` frames from ``position`` while an item was playing:
        one run of its own (cause "late"), closed at once, after any run it ended."""
        closed = [run for run in (self.close(),) if run is not None]
        closed.append(GlitchRun("late", frames, position, slot_ms, item_id))
        return closed

    def close(self) -> GlitchRun | None:
        """The session went idle or ended: the open run, closed."""
        run, self.open = self.open, None
        return run
