"""The agent audio waiting to be played for one session, and what has played.

Pure logic, no I/O: playout feeds it deltas and asks it for one frame per
clock tick. It alone knows how many samples of each item were actually played,
which is what truncation must use.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class AgentItem:
    """Accounting for one agent audio item (one content part)."""

    item_id: str
    content_index: int
    received: int = 0  # samples received
    played: int = 0  # samples handed to the transport
    started: bool = False
    done: bool = False  # no more audio will come
    stopped: bool = False  # playout of it is over (completed or interrupted)
    interrupted: bool = False
    text: str = ""  # transcript received so far
    first_rx_ns: int = 0
    queued: int = 0  # segments of it still in the queue


@dataclass
class FrameResult:
    """What one tick produced."""

    filled: int = 0  # samples of agent audio in the frame (rest is silence)
    started: list[AgentItem] = field(default_factory=list)
    finished: list[AgentItem] = field(default_factory=list)
    underrun: bool = False  # an item was mid-stream and ran dry
    first_rx_ns: list[int] = field(default_factory=list)  # rx stamp of items' first audio
    taken: list[tuple[AgentItem, int]] = field(default_factory=list)  # (item, samples), in order


class PlayoutQueue:
    """FIFO of (item, pcm) segments; items play strictly in arrival order."""

    def __init__(self) -> None:
        self._segments: deque[tuple[AgentItem, memoryview, int]] = deque()
        self._offset = 0  # bytes of the head segment already played
        self.items: dict[str, AgentItem] = {}
        self.flushed: set[str] = set()

    def push(self, item_id: str, content_index: int, pcm: bytes, rx_ns: int) -> AgentItem | None:
        """Queue audio; None if the item was flushed (late deltas of a cancelled reply)."""
        if item_id in self.flushed:
            return None
        item = self.items.get(item_id)
        if item is None:
            item = self.items[item_id] = AgentItem(item_id, content_index, first_rx_ns=rx_ns)
        if item.stopped:
            return None
        item.received += len(pcm) // 2
        if pcm:
            self._segments.append((item, memoryview(pcm), rx_ns))
            item.queued += 1
        return item

    def add_text(self, item_id: str, content_index: int, delta: str) -> None:
        if item_id in self.flushed:
            return
        item = self.items.get(item_id)
        if item is None:
            # Transcript may lead its audio (the model sends the first word first).
            item = self.items[item_id] = AgentItem(item_id, content_index)
        if not item.stopped:
            item.text += delta

    def mark_done(self, item_id: str, interrupted: bool = False) -> AgentItem | None:
        """No more audio for the item; ``interrupted``: it was cut short upstream (the
        reply was cancelled or the model link dropped), so it ends as interrupted."""
        item = self.items.get(item_id)
        if item is None:
            # A response with no audio at all (text only, or cancelled before audio).
            return None
        item.done = True
        item.interrupted = item.interrupted or interrupted
        if item.received == 0:
            item.stopped = True  # nothing to play: it never starts
        return item

    def fill(self, out: bytearray, result: FrameResult) -> None:
        """Fill ``out`` (one frame) from the queue; silence-pads the remainder."""
        want = len(out)
        pos = 0
        while pos < want and self._segments:
            item, seg, rx_ns = self._segments[0]
            if not item.started:
                item.started = True
                result.started.append(item)
                result.first_rx_ns.append(rx_ns)
            take = min(want - pos, len(seg) - self._offset)
            if result.taken and result.taken[-1][0] is item:
                result.taken[-1] = (item, result.taken[-1][1] + take // 2)
            else:
                result.taken.append((item, take // 2))
            out[pos : pos + take] = seg[self._offset : self._offset + take]
            pos += take
            self._offset += take
            item.played += take // 2
            if self._offset >= len(seg):
                self._segments.popleft()
                item.queued -= 1
                self._offset = 0
        if pos < want:
            out[pos:] = bytes(want - pos)
        result.filled = pos // 2
        self._finish_done(result)

    def _finish_done(self, result: FrameResult) -> None:
        """Items that are done and fully played stop; a started, unfinished item
        with nothing queued is an underrun (an audible gap)."""
        for item in self.items.values():
            if item.stopped or not item.started or item.queued:
                continue
            if item.done:
                item.stopped = True
                result.finished.append(item)
            else:
                result.underrun = True

    def flush(self) -> list[AgentItem]:
        """Barge-in: drop all queued audio; return the items cut short."""
        cut: list[AgentItem] = []
        for item in self.items.values():
            if item.stopped:
                continue
            item.stopped = item.interrupted = True
            item.queued = 0
            self.flushed.add(item.item_id)
            cut.append(item)
        self._segments.clear()
        self._offset = 0
        return cut

    def forget_stopped(self) -> None:
        """Drop accounting for items that are over (bounded memory on long calls)."""
        for item_id in [k for k, v in self.items.items() if v.stopped]:
            del self.items[item_id]
        if len(self.flushed) > 256:
            self.flushed.clear()

    def playing_item(self) -> AgentItem | None:
        """The item mid-stream (started, not over), if any: its audio should be playing."""
        for item in self.items.values():
            if item.started and not item.stopped:
                return item
        return None

    @property
    def quiet(self) -> bool:
        """Nothing queued and nothing mid-stream (an item whose transcript came first may
        wait for its audio): audio pushed now starts a new talk spurt."""
        return not self._segments and self.playing_item() is None

    @property
    def idle(self) -> bool:
        """Nothing queued and no item mid-stream: a tick would only play silence."""
        return not self._segments and all(i.stopped for i in self.items.values())

    @property
    def busy(self) -> bool:
        return bool(self._segments) or any(not i.stopped for i in self.items.values())
