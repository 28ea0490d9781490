"""What the caller has heard of each item, for a far end that buffers the agent's audio.

A media stream's far end (Twilio) plays what it is sent at its own pace and echoes a
mark once the audio before it has played; the edge reports the last playout tick so
acknowledged (``EdgeHeard``). For such a session, what playout paced out is not what
was heard: :class:`HeardAudio` remembers, for each tick that carried agent audio, how
much of each item had been handed out by then, and turns an acknowledged tick into
samples heard per item. Playout then truncates a cut item at what was heard, and
reports progress (transcript release) by it. Pure logic, no I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Final

from pipeline.stages.playout_queue import AgentItem

# Ticks remembered that the far end has not acknowledged (one entry per item per tick
# with audio): a far end that stops echoing loses the oldest, never memory.
MAX_UNHEARD: Final = 3000


class HeardAudio:
    """Samples handed out per item per tick, and the samples heard per item."""

    def __init__(self, max_unheard: int = MAX_UNHEARD) -> None:
        self._sent: deque[tuple[int, str, int]] = deque()  # (tick, item, played by then)
        self._last: dict[str, int] = {}  # item -> played at its last entry
        self.heard: dict[str, int] = {}  # item -> samples heard
        self.max_unheard = max_unheard
        self.forgotten = 0

    def sent(self, tick: int, items: Iterable[AgentItem]) -> None:
        """Tick ``tick`` was handed to the sink with the queue's items as they stand."""
        for item in items:
            if item.played != self._last.get(item.item_id, 0):
                self._last[item.item_id] = item.played
                self._sent.append((tick, item.item_id, item.played))
        while len(self._sent) > self.max_unheard:
            self._sent.popleft()
            self.forgotten += 1

    def heard_up_to(self, tick: int) -> None:
        """The far end has played every tick up to ``tick``."""
        while self._sent and self._sent[0][0] <= tick:
            _, item_id, played = self._sent.popleft()
            self.heard[item_id] = played

    def played(self, item: AgentItem) -> int:
        """Samples of ``item`` the caller has heard."""
        return min(item.played, self.heard.get(item.item_id, 0))

    @property
    def unheard(self) -> int:
        """Entries waiting for the far end's acknowledgement."""
        return len(self._sent)

    def forget(self, item_ids: Iterable[str]) -> None:
        """Items over: what is not heard of them now never will be."""
        gone = set(item_ids)
        if not gone:
            return
        self._sent = deque(e for e in self._sent if e[1] not in gone)
        for item_id in gone:
            self._last.pop(item_id, None)
            self.heard.pop(item_id, None)
