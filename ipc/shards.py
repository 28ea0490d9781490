"""Stage workers: a stage run as K processes, its sessions sharded across them.

Why here: every process must agree on the names (a worker's inbox, its control
identity) and on where a session's messages go, and the stages may import only
``ipc``. A stage with one worker keeps its plain name (``dsp``, ``dsp.in``), so an
unsharded run is the run it always was; with K > 1 its workers are ``dsp.0`` ..
``dsp.<K-1>``. Which worker serves a session is decided once, by the supervisor, at
the session's start (``SessionConfig.workers``: stage -> index, absent = 0), so it is
stable for the session's life and replayed with it to a restarted worker.

``PushRoute`` is an upstream end of a hop to a stage: one PUSH (and its batching
``Outbox``) per worker, and the session's found with one dict lookup per message
(none for an unsharded stage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import zmq

from ipc.sockets import Outbox, connect_push
from ipc.stats import StageStats

#: every stage kind, in the order the supervisor spawns them
STAGE_KINDS: Final = ("capture", "dsp", "model", "playout", "edge")
MAX_WORKERS: Final = 64


def worker_name(stage: str, index: int, count: int) -> str:
    """``dsp`` for a stage's only worker, ``dsp.<index>`` for one of several."""
    return stage if count <= 1 else f"{stage}.{index}"


def worker_names(stage: str, count: int) -> list[str]:
    return [worker_name(stage, i, count) for i in range(max(1, count))]


def split_worker(name: str) -> tuple[str, int]:
    """(stage, index) of a worker name (``dsp`` -> ("dsp", 0), ``dsp.1`` -> ("dsp", 1))."""
    stage, _, index = name.partition(".")
    return stage, int(index) if index.isdigit() else 0


def parse_workers(text: str) -> dict[str, int]:
    """``"dsp=2,model=2"`` -> {"dsp": 2, "model": 2}. Raises ValueError (one line) on a
    stage that does not exist, a count that is not 1..MAX_WORKERS, or a repeated stage."""
    counts: dict[str, int] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        stage, sep, number = (s.strip() for s in part.partition("="))
        if not sep:
            raise ValueError(f"expected STAGE=N, got {part.strip()!r}")
        _check_stage(stage)
        if stage in counts:
            raise ValueError(f"{stage} given twice")
        try:
            count = int(number)
        except ValueError:
            raise ValueError(f"{stage} needs a number, got {number!r}") from None
        counts[stage] = count
    return check_workers(counts)


def _check_stage(stage: str) -> None:
    if stage not in STAGE_KINDS:
        raise ValueError(f"unknown stage {stage!r} (stages: {', '.join(STAGE_KINDS)})")


def check_workers(counts: Mapping[str, int]) -> dict[str, int]:
    """The counts, validated (ValueError, one line); stages absent have one worker."""
    for stage, count in counts.items():
        _check_stage(stage)
        if not 1 <= count <= MAX_WORKERS:
            raise ValueError(f"{stage}={count}: a stage runs 1-{MAX_WORKERS} workers")
    return {stage: counts.get(stage, 1) for stage in STAGE_KINDS}


def format_workers(counts: Mapping[str, int]) -> str:
    """The inverse of ``parse_workers`` for the sharded stages (``""``: none)."""
    return ",".join(f"{s}={n}" for s, n in counts.items() if n > 1)


class PushRoute:
    """The outboxes to one stage's workers, and which one each session uses."""

    def __init__(self, outboxes: list[Outbox]) -> None:
        self.outboxes = outboxes
        self.only = outboxes[0] if len(outboxes) == 1 else None
        self._by_session: dict[str, Outbox] = {}

    @property
    def sockets(self) -> list[zmq.Socket[bytes]]:
        return [box.sock for box in self.outboxes]

    def open(self, session: str, index: int) -> None:
        """Route ``session`` to worker ``index`` (an index past the workers: the last)."""
        if self.only is None:
            self._by_session[session] = self.outboxes[min(max(0, index),
                                                          len(self.outboxes) - 1)]

    def close(self, session: str) -> None:
        self._by_session.pop(session, None)

    def outbox(self, session: str) -> Outbox | None:
        """The session's worker's outbox; None for a session this route never opened."""
        if self.only is not None:
            return self.only
        return self._by_session.get(session)

    def flush(self) -> None:
        for box in self.outboxes:
            box.flush()


def connect_routes(ctx: zmq.Context[zmq.Socket[bytes]], runtime_dir: str,
                   stages: tuple[str, ...], counts: Mapping[str, int],
                   stats: StageStats) -> dict[str, PushRoute]:
    """A ``PushRoute`` to every worker of each stage in ``stages``."""
    routes = {}
    for stage in stages:
        _check_stage(stage)
        n = counts.get(stage, 1)
        routes[stage] = PushRoute([
            Outbox(connect_push(ctx, f"ipc://{runtime_dir}/{name}.in"), stage, stats)
            for name in worker_names(stage, n)])
    return routes
