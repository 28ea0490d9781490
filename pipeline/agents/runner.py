"""``voxpipe run --agent FILE``: run a user's agent entrypoint against a file call.

FILE is a Python file that defines ``async def entrypoint(ctx: JobContext)``, as a
livekit-agents worker does. The entrypoint runs in the supervisor process; the
call ends when the input has ended and the conversation went quiet, or on
SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from pipeline.agents.job import JobContext
from pipeline.supervisor.runtime import Runtime
from pipeline.supervisor.session import SessionSummary
from pipeline.transports.file.room import FileRoom

log = logging.getLogger("voxpipe.agent")

Entrypoint = Callable[[JobContext], Coroutine[Any, Any, Any]]


class AgentFileError(Exception):
    """The agent file cannot be used (missing, does not import, no entrypoint)."""


def load_entrypoint(path: Path) -> Entrypoint:
    if not path.is_file():
        raise AgentFileError(f"agent file not found: {path}")
    spec = importlib.util.spec_from_file_location(f"voxpipe_agent_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise AgentFileError(f"cannot import agent file {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise AgentFileError(f"agent file {path} failed to import: "
                             f"{type(exc).__name__}: {exc}") from exc
    entry = getattr(module, "entrypoint", None)
    if entry is None or not inspect.iscoroutinefunction(entry):
        raise AgentFileError(f"agent file {path} must define 'async def entrypoint(ctx)'")
    return entry  # type: ignore[no-any-return]


async def run_agent(entry: Entrypoint, runtime: Runtime, input_path: Path, out_dir: Path,
                    *, realtime: bool, stop: asyncio.Event) -> SessionSummary | None:
    """Run ``entry`` on a file room until the call ends or ``stop`` is set."""
    room = FileRoom(input_path, out_dir, realtime=realtime)
    ctx = JobContext(room, runtime)
    job: asyncio.Task[Any] = asyncio.create_task(entry(ctx), name="agent-entrypoint")
    ended: asyncio.Task[SessionSummary | None] = asyncio.create_task(ctx.call_ended())
    waiters: set[asyncio.Future[Any]] = {ended, asyncio.ensure_future(stop.wait()),
                                         asyncio.ensure_future(runtime.failed.wait())}
    try:
        done, _ = await asyncio.wait(waiters | {job}, return_when=asyncio.FIRST_COMPLETED)
        if job in done and job.exception() is not None:
            raise job.exception()  # type: ignore[misc]
        if job in done:
            # The entrypoint returned after starting the agent: wait for the call.
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in (*waiters, job):
            w.cancel()
        await ctx.run_shutdown_callbacks()
    if ended.done() and not ended.cancelled():
        return ended.result()
    sid = room.session_id
    session = runtime.sessions.get(sid) if sid is not None else None
    if session is None:
        return None
    runtime.end_session(session.id)
    try:
        return await asyncio.wait_for(asyncio.shield(session.closed), 6.0)
    except TimeoutError:
        return session.summary()
