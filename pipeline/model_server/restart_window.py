"""Crash-loop policy for a supervised child: restart, unless it died too often too fast.

gunicorn's rule: a child that keeps dying is not restarted forever. At most
`max_restarts` restarts fit in any `window_s` seconds; the next death inside
the window gives up, with a reason that names the last exit code. Pure logic
on a caller-given monotonic clock, so the policy is tested without processes.
"""

from __future__ import annotations

import signal
from collections import deque
from dataclasses import dataclass, field


def describe_exit(code: int) -> str:
    """`code` as Popen reports it: "exit code 1", or "exit code -9 (SIGKILL)" for a signal."""
    if code < 0:
        try:
            return f"exit code {code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"exit code {code}"


@dataclass
class RestartWindow:
    """Counts a child's restarts in a sliding window of `window_s` seconds."""

    max_restarts: int = 5
    window_s: float = 30.0
    restarts: int = 0
    """Restarts allowed so far, in all."""
    _recent: deque[float] = field(default_factory=deque, repr=False)

    def allow(self, now: float) -> bool:
        """The child died at `now`: True to restart it, False if that is one restart too many."""
        while self._recent and now - self._recent[0] > self.window_s:
            self._recent.popleft()
        if len(self._recent) >= self.max_restarts:
            return False
        self._recent.append(now)
        self.restarts += 1
        return True

    def give_up_reason(self, what: str, code: int) -> str:
        """Why `what` is no longer restarted, its last exit `code` included."""
        return (f"{what} keeps dying ({describe_exit(code)}; {self.max_restarts} restarts "
                f"within {self.window_s:g} s); giving up")
