"""Liveness both ways, after the ZeroMQ guide's Paranoid Pirate (chapter 4).

The supervisor pings each stage with an echoed token on a monotonic schedule
(not only while busy); any inbound message from a stage counts as life. A stage
watches the supervisor the same way and also checks ``getppid()``: if its parent
is gone it exits instead of serving nobody.
"""

from __future__ import annotations

import os
import time
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
    """Ping every ``interval_s``; tokens increase so a late pong is recognisable."""

    interval_s: float
    next_due: float = 0.0
    token: int = 0

    def due(self, now: float) -> bool:
        return now >= self.next_due

    def next_token(self, now: float) -> int:
        self.next_due = now + self.interval_s
        self.token += 1
        return self.token


class ParentWatch:
    """True once the process that started us is gone (we were re-parented)."""

    def __init__(self, parent_pid: int | None = None) -> None:
        # The spawner's pid when known: the parent may have died before we looked.
        self._parent = parent_pid if parent_pid is not None else os.getppid()

    def parent_gone(self) -> bool:
        return os.getppid() != self._parent
