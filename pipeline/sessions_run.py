"""``voxpipe run --sessions N``: N concurrent copies of one call on one runtime.

The load test a user runs against their own deployment (``--base-url`` names any
server speaking the Realtime protocol): the agent runs on N file calls of the same
input, each recorded in ``DIR/<session-id>/``, on the road ``voxpipe run`` takes
for one (``run_agent``). Admission control applies to each copy: the runtime
refuses a copy it has no headroom for, and the summary counts it. Sessions start
one after another, each once the previous one is live, so the runtime's admission
sees every session already started.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.agents.runner import run_agent
from pipeline.supervisor.admission import AdmissionRefused
from pipeline.supervisor.session import Session, SessionSummary
from pipeline.transports.file.room import room_for_file

if TYPE_CHECKING:
    from pipeline.agents.room import Room
    from pipeline.agents.runner import Entrypoint
    from pipeline.supervisor.runtime import Runtime

PROGRESS_EVERY_S = 5.0


@dataclass
class Copy:
    """One copy of the call: its outcome once over."""

    name: str
    summary: SessionSummary | None = None
    problem: str = ""  # why it failed or was refused
    refused: bool = False


@dataclass
class Tally:
    copies: list[Copy] = field(default_factory=list)
    running: int = 0

    def counts(self) -> dict[str, int]:
        done = sum(c.summary is not None and not c.problem for c in self.copies)
        refused = sum(c.refused for c in self.copies)
        failed = sum(bool(c.problem) and not c.refused for c in self.copies)
        return {"running": self.running, "done": done, "failed": failed, "refused": refused}

    def line(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.counts().items())


async def run_sessions(runtime: Runtime, entry: Entrypoint, input_path: Path, out: Path,
                       n: int, *, realtime: bool, stop: asyncio.Event,
                       show: Callable[[str], None] = print) -> Tally:
    """Run ``n`` copies, a progress line every ``PROGRESS_EVERY_S``; their tally."""
    tally = Tally()
    width = len(str(n))
    ticker = asyncio.create_task(_progress(tally, show))
    tasks = []
    try:
        for i in range(1, n + 1):
            if stop.is_set() or runtime.failed.is_set():
                break
            copy = Copy(f"call-{i:0{width}d}")
            tally.copies.append(copy)
            try:
                runtime.admit()
            except AdmissionRefused as exc:
                copy.refused, copy.problem = True, str(exc)
                continue
            room = room_for_file(input_path, out / copy.name, realtime=realtime, named=True)
            live = asyncio.Event()
            task = asyncio.create_task(_run_copy(runtime, entry, room, copy, tally, stop, live))
            tasks.append(task)
            with contextlib.suppress(TimeoutError):  # the next copy waits until this is live
                await asyncio.wait_for(asyncio.wait([task, asyncio.create_task(live.wait())],
                                                    return_when=asyncio.FIRST_COMPLETED), 30)
        if tasks:
            await asyncio.wait(tasks)
    finally:
        ticker.cancel()
        for t in tasks:
            t.cancel()
    show(f"voxpipe: sessions: {tally.line()}")
    return tally


async def _run_copy(runtime: Runtime, entry: Entrypoint, room: Room, copy: Copy,
                    tally: Tally, stop: asyncio.Event, live: asyncio.Event) -> None:
    def bound(_: Session) -> None:
        live.set()

    tally.running += 1
    try:
        copy.summary = await run_agent(entry, runtime, room, stop=stop, on_session=bound)
        if copy.summary is None:
            copy.problem = "the agent never started a session"
        elif copy.summary.error:
            copy.problem = copy.summary.error
    except AdmissionRefused as exc:  # refused between the check and the session's start
        copy.refused, copy.problem = True, str(exc)
    except Exception as exc:  # the user's entrypoint failed: this copy only
        copy.problem = f"agent entrypoint failed: {type(exc).__name__}: {exc}"
    finally:
        tally.running -= 1
        live.set()


async def _progress(tally: Tally, show: Callable[[str], None]) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        show(f"voxpipe: sessions: {tally.line()}")


def _ms(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):6.0f} ms" if values else "      -  "


def summary_lines(tally: Tally) -> list[str]:
    """The run's summary: one line per copy, then the totals."""
    lines = []
    every: list[float] = []
    lost = glitches = 0
    for c in tally.copies:
        s = c.summary
        if s is None or c.problem:
            lines.append(f"  {c.name}  {'refused' if c.refused else 'failed'}: {c.problem}")
            continue
        lat = [t.first_audio_latency_ms for t in s.turns]
        replied = [x for x in lat if x is not None and math.isfinite(x)]
        every += replied
        lost += len(lat) - len(replied)
        glitches += s.glitches
        lines.append(f"  {s.session}  turns {len(s.turns)}  replies {len(replied)}  "
                     f"first reply p50 {_ms(replied, 50)} p99 {_ms(replied, 99)}  "
                     f"glitch frames {s.glitches}  {s.out_dir}")
    counts = tally.counts()
    lines.append(f"  all: {counts['done']} done, {counts['failed']} failed, "
                 f"{counts['refused']} refused; {len(every)} replies, {lost} turns unanswered; "
                 f"first reply p50 {_ms(every, 50)} p99 {_ms(every, 99)}; "
                 f"glitch frames {glitches}")
    lines.append("  (first reply: end of speech to first agent audio, including the model's "
                 "end-of-turn silence window)")
    return lines
