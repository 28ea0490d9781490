"""Admission control: refuse a new session before the admitted ones would degrade.

Pure policy, no I/O: it decides from a ``Headroom`` (what the runtime measured of
itself: each stage's CPU, playout's lateness, the live sessions), so it is tested
with made-up figures. The measuring is ``headroom.py``'s. A threshold crossed
upward starts refusing; refusing stops only once the figure is back under
``resume_ratio`` of it, so a load hovering at the threshold does not flap between
admitting and refusing. The defaults never refuse an idle machine: a stage near a
whole core, or playout's wake-ups 40 ms late, is an overloaded one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

# "off": admit every session; "on" (or unset): the default limits; "max_sessions=40,
# max_stage_cpu=0.8": the defaults with those limits changed.
ADMISSION_ENV: Final = "VOXPIPE_ADMISSION"
#: ``AdmissionRefused.reason``: which limit refused.
REFUSAL_REASONS: Final = ("cpu", "lateness", "max_sessions")


@dataclass(frozen=True)
class AdmissionLimits:
    """Refuse above any of these; ``max_sessions`` None: no cap."""

    max_stage_cpu: float = 0.9  # of one core per worker, the busiest stage
    max_late_ms: float = 40.0  # playout wake-ups' lateness, p99 over the last interval
    max_sessions: int | None = None
    resume_ratio: float = 0.8  # refusing stops below this fraction of the threshold


def limits_from_env() -> AdmissionLimits | None:
    """The limits ``VOXPIPE_ADMISSION`` asks for; None: admission off. Raises ValueError
    (one line, naming the variable) on a value it cannot read."""
    value = os.environ.get(ADMISSION_ENV, "").strip().lower()
    if value == "off":
        return None
    if value in ("", "on"):
        return AdmissionLimits()
    changes: dict[str, Any] = {}
    for part in value.split(","):
        key, _, number = part.partition("=")
        key = key.strip()
        if key not in ("max_stage_cpu", "max_late_ms", "max_sessions", "resume_ratio"):
            raise ValueError(f"{ADMISSION_ENV}: unknown limit {key!r} in {value!r}")
        try:
            changes[key] = int(number) if key == "max_sessions" else float(number)
        except ValueError:
            raise ValueError(f"{ADMISSION_ENV}: {key} needs a number, got {number!r}") from None
    return replace(AdmissionLimits(), **changes)


@dataclass(frozen=True)
class Headroom:
    """What the runtime measured of itself (figures it has not measured yet read 0)."""

    stage_cpu: Mapping[str, float] = field(default_factory=dict)  # cores, per stage
    late_p99_ms: float = 0.0
    sessions: int = 0
    # Worker processes per stage (absent: one): a stage's CPU is its workers' sum, and
    # the limit applies to it per worker (sessions are spread evenly over them).
    workers: Mapping[str, int] = field(default_factory=dict)

    def per_worker_cpu(self) -> dict[str, float]:
        return {stage: share / max(1, self.workers.get(stage, 1))
                for stage, share in self.stage_cpu.items()}

    def describe(self) -> str:
        busiest = sorted(self.stage_cpu.items(), key=lambda kv: -kv[1])[:3]
        cpu = ", ".join(f"{stage} {share:.0%}" for stage, share in busiest) or "not measured"
        return (f"stage cpu {cpu}; playout lateness p99 {self.late_p99_ms:.1f} ms; "
                f"{self.sessions} sessions")


class AdmissionRefused(Exception):
    """A session refused for lack of headroom: ``reason`` ("cpu", "lateness",
    "max_sessions") and the ``headroom`` measured when it was refused."""

    def __init__(self, reason: str, detail: str, headroom: Headroom) -> None:
        super().__init__(f"no headroom for a new session: {detail} ({headroom.describe()})")
        self.reason = reason
        self.headroom = headroom


class AdmissionPolicy:
    """``check(headroom)`` raises ``AdmissionRefused`` or returns. ``observe`` (every
    measurement, and every check) moves the thresholds it is refusing on: the
    hysteresis follows the load, not only the moments a session asks to start."""

    def __init__(self, limits: AdmissionLimits) -> None:
        self.limits = limits
        self.refusing: set[str] = set()

    def observe(self, headroom: Headroom) -> None:
        lim = self.limits
        self._update("cpu", max(headroom.per_worker_cpu().values(), default=0.0),
                     lim.max_stage_cpu)
        self._update("lateness", headroom.late_p99_ms, lim.max_late_ms)

    def check(self, headroom: Headroom) -> None:
        lim = self.limits
        if lim.max_sessions is not None and headroom.sessions >= lim.max_sessions:
            raise AdmissionRefused("max_sessions", f"{headroom.sessions} sessions live, "
                                   f"the cap is {lim.max_sessions}", headroom)
        self.observe(headroom)
        if "cpu" in self.refusing:
            busiest, share = max(headroom.per_worker_cpu().items(), key=lambda kv: kv[1])
            workers = headroom.workers.get(busiest, 1)
            each = f" per worker of {workers}" if workers > 1 else ""
            raise AdmissionRefused("cpu", f"stage {busiest} uses {share:.0%} of a core{each} "
                                   f"(limit {lim.max_stage_cpu:.0%})", headroom)
        if "lateness" in self.refusing:
            raise AdmissionRefused("lateness", f"playout runs {headroom.late_p99_ms:.1f} ms "
                                   f"late (limit {lim.max_late_ms:.0f} ms)", headroom)

    def _update(self, reason: str, value: float, threshold: float) -> None:
        """Refuse on ``reason`` above ``threshold``; stop once under the resume level."""
        if value > threshold:
            self.refusing.add(reason)
        elif value < threshold * self.limits.resume_ratio:
            self.refusing.discard(reason)
