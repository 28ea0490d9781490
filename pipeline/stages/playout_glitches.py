"""Glitches of one session: gaps inside an item's audio as it played on the timeline.

Pure logic, no I/O. A glitch is what a listener hears and what the recording shows:
silence on the timeline between two pieces of the *same* item's audio. Playout reports
where each frame's audio landed; when an item's audio resumes past the point its last
audio ended, the silence between is one gap (one ``PlayoutGlitch``), its cause "late"
if playout's clock skipped frames meanwhile (the process was starved or stopped), else
"underrun" (the audio had not arrived). A gap that never closes (the item was cut by a
barge-in, or ended with its link) is a truncated reply, not a glitch: nothing of it
plays after the silence. Counting this way, playout's figure is the recording's: the
density benchmark finds the same gaps in ``conversation.wav`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipc.schema import PlayoutGlitch


@dataclass(frozen=True)
class Gap:
    """Silence inside an item's audio: ``samples`` long from timeline sample ``position``."""

    cause: str
    samples: int
    position: int
    item_id: str

    def frames(self, frame_samples: int) -> int:
        """The gap in playout frames, a partial frame counting as one."""
        return -(-self.samples // frame_samples)

    def event(self, frame_samples: int) -> PlayoutGlitch:
        return PlayoutGlitch(self.cause, self.frames(frame_samples), self.position,
                             self.item_id, self.samples)


class GapTracker:
    """Where the session's last agent audio ended on the timeline, and whose it was."""

    def __init__(self) -> None:
        self.item_id: str | None = None  # the item whose audio was last written, if live
        self.end = 0  # the timeline sample just past that audio
        self.late = False  # the clock skipped frames since

    def skipped(self) -> None:
        """The clock jumped over frames it was too late to play."""
        if self.item_id is not None:
            self.late = True

    def played(self, position: int, first: str, last: str, samples: int) -> Gap | None:
        """A frame at ``position`` carried ``samples`` of audio from its start, of item
        ``first`` up to item ``last``; the gap it closed, if any."""
        gap = None
        if first == self.item_id and position > self.end:
            gap = Gap("late" if self.late else "underrun", position - self.end, self.end,
                      first)
        self.item_id, self.end, self.late = last, position + samples, False
        return gap

    def stopped(self, item_id: str) -> None:
        """The item is over (played out, or cut): silence after it is no gap."""
        if item_id == self.item_id:
            self.item_id, self.late = None, False
