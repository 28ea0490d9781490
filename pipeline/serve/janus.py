"""``voxpipe serve --janus URL --room ID``: one agent kept in a Janus AudioBridge room.

At start-up the server seats the agent in the room (a ``JanusRoom`` call through
``run_agent``, the road every call takes); when that call ends — the room was
destroyed, the agent kicked, Janus restarted, the model failed — it joins again
after a pause that grows while calls keep failing at once (and resets after a call
that lasted). On stop (SIGTERM) the call ends: the edge leaves the room, detaches and
destroys its Janus session, and the recording is finalized.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Final

from pipeline.agents.runner import Entrypoint, run_agent
from pipeline.supervisor.runtime import Runtime
from pipeline.transports.janus.room import JanusRoom

log = logging.getLogger("voxpipe.serve")

REJOIN_FIRST_S: Final = 1.0
REJOIN_MAX_S: Final = 30.0
# A call that lasted this long was not a failure: the next rejoin waits the least.
STEADY_CALL_S: Final = 30.0


class JanusSeat:
    """The agent's place in one AudioBridge room, kept until :meth:`run`'s ``stop``."""

    def __init__(self, runtime: Runtime, entry: Entrypoint, url: str, room: int,
                 record_dir: Path | None) -> None:
        self.runtime, self.entry, self.url, self.room = runtime, entry, url, room
        self.record_dir = record_dir
        self.calls = 0
        self.failures = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Join, rejoin when the call ends, until ``stop`` is set."""
        pause = REJOIN_FIRST_S
        while not stop.is_set():
            started = time.monotonic()
            await self._one_call(stop)
            if stop.is_set():
                return
            pause = REJOIN_FIRST_S if time.monotonic() - started >= STEADY_CALL_S else pause
            log.info("janus room %d: the agent's call ended; joining again in %.0f s",
                     self.room, pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(pause * 2, REJOIN_MAX_S)

    async def _one_call(self, stop: asyncio.Event) -> None:
        self.calls += 1
        out_dir = self._out_dir()
        room = JanusRoom(self.url, self.room, out_dir)
        log.info("janus room %d: joining %s (call %d, recorded in %s)", self.room, self.url,
                 self.calls, out_dir)
        try:
            summary = await run_agent(self.entry, self.runtime, room, stop=stop)
            error = summary.error if summary is not None else "no session"
            if error:
                self.failures += 1
                log.warning("janus room %d: call %d ended: %s", self.room, self.calls, error)
        except Exception as exc:  # the entrypoint or the session's start: this call only
            self.failures += 1
            log.error("janus room %d: call %d failed: %s: %s", self.room, self.calls,
                      type(exc).__name__, exc)
        finally:
            if self.record_dir is None:
                with contextlib.suppress(OSError):
                    shutil.rmtree(out_dir)

    def _out_dir(self) -> Path:
        if self.record_dir is not None:
            return self.record_dir / f"janus-{self.room}-{self.calls}"
        return Path(tempfile.mkdtemp(prefix=f"voxpipe-janus-{self.room}-"))
