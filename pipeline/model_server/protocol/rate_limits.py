"""`rate_limits.updated`: a per-session request and token budget, as the API reports it.

The real API follows each `response.done` with `rate_limits.updated` (requests
and tokens left in the current one-minute window, and when it resets). This
server enforces nothing; it reports a plausible budget that shrinks with use,
so clients that read the event get realistic values.
"""

from __future__ import annotations

import time
from typing import Any

REQUESTS_PER_MINUTE = 5_000
TOKENS_PER_MINUTE = 40_000
WINDOW_S = 60.0


class RateLimits:
    """Requests and tokens used in the current window; rendered as the event payload."""

    def __init__(self) -> None:
        self._window_start = time.monotonic()
        self._requests = 0
        self._tokens = 0

    def charge(self, response: dict[str, Any]) -> dict[str, Any]:
        """Count one finished response (as sent); the `rate_limits.updated` payload."""
        tokens = int((response.get("usage") or {}).get("total_tokens", 0))
        now = time.monotonic()
        if now - self._window_start >= WINDOW_S:
            self._window_start, self._requests, self._tokens = now, 0, 0
        self._requests += 1
        self._tokens += tokens
        reset_s = round(max(0.0, WINDOW_S - (now - self._window_start)), 3)
        return {
            "rate_limits": [
                {
                    "name": "requests", "limit": REQUESTS_PER_MINUTE,
                    "remaining": max(0, REQUESTS_PER_MINUTE - self._requests),
                    "reset_seconds": reset_s,
                },
                {
                    "name": "tokens", "limit": TOKENS_PER_MINUTE,
                    "remaining": max(0, TOKENS_PER_MINUTE - self._tokens),
                    "reset_seconds": reset_s,
                },
            ]
        }
