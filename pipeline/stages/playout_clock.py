"""A session's playout clock: which frame of the session timeline is due when.

Frame k of a session plays at ``t0 + k * frame``, whatever the load: the recording,
the events' ``t_ms`` and the agent's pacing all read this one timeline.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SessionClock:
    """Frame k of a session is due at ``t0 + k * frame``."""

    t0_ns: int
    frame_ns: int
    frame_samples: int
    tick: int = 0

    def due_ns(self) -> int:
        return self.t0_ns + self.tick * self.frame_ns

    def position(self) -> int:
        return self.tick * self.frame_samples

    def t_ms(self, now_ns: int) -> float:
        return round((now_ns - self.t0_ns) / 1e6, 1)

    def slot_ms(self) -> float:
        """Where the current frame sits on the timeline: what the recording says,
        however late a starved process got round to playing it."""
        return round(self.tick * self.frame_ns / 1e6, 1)
