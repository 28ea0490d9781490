"""Liveness both ways, after the ZeroMQ guide's Paranoid Pirate (chapter 4).

The supervisor pings each stage with an echoed token on a monotonic schedule
(not only while busy); any inbound message from a stage counts as life, except a
pong whose token is not one the supervisor recently sent (a corrupt or made-up
answer is no proof that the stage's loop runs). A stage
watches the supervisor the same way and also checks ``getppid()``: if its parent
is gone it exits instead of serving nobody.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class PeerLiveness:
    """When a peer was last heard from, judged against a timeout."""

    timeout_s: float
    last_seen: float = field(default_factory=time.monotonic)

    def seen(self, now: float | None = None) -> None:
        self.last_seen = time.monotonic() if now is None else now

    def silent_for(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.last_seen

    def expired(self, now: float | None = None) -> bool:
        return self.silent_for(now) > self.timeout_s


@dataclass
class PingSchedule:
    """Ping every ``interval_s``; tokens increase so a late pong is recognisable.

    One round sends the same token to every peer. The last ``remember`` tokens are
    kept: a pong answers a ping only if it echoes one of them, so a pong that is late
    by up to ``remember`` rounds still counts (size it to cover the peer's deadline).
    """

    interval_s: float
    remember: int = 4
    next_due: float = 0.0
    token: int = 0
    _recent: deque[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._recent = deque(maxlen=max(1, self.remember))

    def due(self, now: float) -> bool:
        return now >= self.next_due

    def next_token(self, now: float) -> int:
        self.next_due = now + self.interval_s
        self.token += 1
        self._recent.append(self.token)
        return self.token

    def answers(self, token: int) -> bool:
        """Whether ``token`` is one of the last ``remember`` tokens sent."""
        return token in self._recent


class ParentWatch:
    """True once the process that started us is gone (we were re-parented)."""

    def __init__(self, parent_pid: int | None = None) -> None:
        # The spawner's pid when known: the parent may have died before we looked.
        self._parent = parent_pid if parent_pid is not None else os.getppid()

    def parent_gone(self) -> bool:
        return os.getppid() != self._parent
