"""One session in playout: its clock, queue, record and sink, and where its audio sits
on the timeline.

Pure bookkeeping over those parts, no I/O of its own: where a reply reaching a quiet
session starts (on arrival, not at the next frame of the old grid), and which of the
samples handed over a barge-in takes back (those the timeline had not yet reached, on
a sink heard on the timeline).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

from ipc.schema import SessionConfig
from pipeline.record.session_record import SessionRecord
from pipeline.stages.playout_clock import SessionClock
from pipeline.stages.playout_glitches import GapTracker
from pipeline.stages.playout_queue import AgentItem, FrameResult, PlayoutQueue
from pipeline.transports.base import Sink

# Item segments of the last frames kept for a barge-in's cut (a frame holds one or two).
RECENT_SEGMENTS: Final = 8


@dataclass
class SessionPlayout:
    cfg: SessionConfig
    clock: SessionClock
    queue: PlayoutQueue
    record: SessionRecord
    sink: Sink
    frame: bytearray
    gaps: GapTracker
    sent_until: int = 0  # timeline sample where the last frame handed to the sink ends
    parked: bool = False  # idle, its clock not ticking until agent audio comes
    # (position, item, samples) of the items' audio in the last frames played
    recent: deque[tuple[int, AgentItem, int]] = field(
        default_factory=lambda: deque(maxlen=RECENT_SEGMENTS))

    def played(self, result: FrameResult) -> None:
        """The current frame was filled with ``result`` (and handed over if it has audio)."""
        pos = self.clock.position()
        for item, n in result.taken:
            self.recent.append((pos, item, n))
            pos += n
        if result.filled:
            self.sent_until = self.clock.position() + self.clock.frame_samples

    def start_on_arrival(self, now_ns: int) -> bool:
        """A reply reached the quiet session at ``now_ns``: re-anchor the clock at the
        timeline's present sample (never over the last frame sent, which may still be
        heard); False if the grid's next frame is the place already, or is overdue (a
        late clock catches up, and counts what it skips, as it would anyway)."""
        clock = self.clock
        start = max(clock.sample_at(now_ns), self.sent_until)
        if start >= clock.position():
            return False
        if start <= clock.position() - 2 * clock.frame_samples:
            return False  # the clock has handled frames past that moment: its place is taken
        clock.anchor(start, contiguous=start == self.sent_until)
        return True

    def unplay(self, cut: set[str], now_ns: int) -> None:
        """A barge-in at ``now_ns`` on a sink heard on the timeline: the cut items' audio
        the timeline had not reached (the rest of the frame in flight, a frame played
        ahead) was never heard. It leaves the record and the played count, so the
        truncation point is where the agent fell silent."""
        if self.sink.heard_on_timeline:
            heard = self.clock.sample_at(now_ns)
            for pos, item, n in self.recent:
                start = max(pos, heard)
                if item.item_id in cut and start < pos + n:
                    item.played -= pos + n - start
                    self.record.write_agent(start, bytes(2 * (pos + n - start)))
        self.recent.clear()
