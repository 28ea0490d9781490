"""A session's playout clock: which frame of the session timeline is due when.

Frames are ``frame_samples`` long and follow each other on a grid of the session
timeline (origin ``t0``): frame k starts at output sample ``k * frame_samples + phase``
and is due when the timeline reaches that sample, whatever the load: the recording,
the events' ``t_ms`` and the agent's pacing all read this one timeline. The grid's
``phase`` is 0 until a reply reaches a quiet session mid-frame: then the clock is
re-anchored at the reply's arrival (:meth:`SessionClock.anchor`), so its first frame
plays at once instead of waiting for the next frame of the old grid.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SessionClock:
    """Frame k of a session starts at sample ``k * frame_samples + phase`` of the
    timeline, due at that sample's time after ``t0``."""

    t0_ns: int
    frame_ns: int
    frame_samples: int
    tick: int = 0
    phase: int = 0  # samples, 0 <= phase < frame_samples
    # Re-anchors that broke the sequence of frames sent: the sinks' frame numbers
    # (``seq``) jump at each, so a far end sees a new talk spurt there.
    breaks: int = 0

    def due_ns(self) -> int:
        return self.t0_ns + self.position() * self.frame_ns // self.frame_samples

    def position(self) -> int:
        """The output sample of the timeline where the current frame starts."""
        return self.tick * self.frame_samples + self.phase

    def seq(self) -> int:
        """The current frame's number for the sinks: +1 from one frame to the next while
        the frames are contiguous on the timeline, a jump where they are not."""
        return self.tick + self.breaks

    def sample_at(self, now_ns: int) -> int:
        """The output sample of the timeline playing at ``now_ns`` (not before 0)."""
        return max(0, (now_ns - self.t0_ns) * self.frame_samples // self.frame_ns)

    def skip_to(self, now_ns: int) -> None:
        """Move to the first frame not yet due at ``now_ns`` (never back): where a clock
        that ticked through a parked session's silence would stand."""
        self.tick = max(self.tick, (self.sample_at(now_ns) - self.phase)
                        // self.frame_samples + 1)

    def anchor(self, position: int, contiguous: bool) -> None:
        """Make ``position`` the start of the current frame (the grid moves with it);
        ``contiguous``: it is where the last frame sent ended (no break in ``seq``)."""
        self.tick, self.phase = divmod(position, self.frame_samples)
        self.breaks += not contiguous

    def t_ms(self, now_ns: int) -> float:
        return round((now_ns - self.t0_ns) / 1e6, 1)

    def slot_ms(self) -> float:
        """Where the current frame sits on the timeline: what the recording says,
        however late a starved process got round to playing it."""
        return round((self.due_ns() - self.t0_ns) / 1e6, 1)
