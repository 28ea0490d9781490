"""Run an agent entrypoint on one call: ``voxpipe run`` (with ``--agent FILE`` or the
built-in default agent).

FILE is a Python file that defines ``async def entrypoint(ctx: JobContext)``, or (as
livekit-agents 0.12 files do) names its entrypoint and ``prewarm_fnc`` only in
``cli.run_app(WorkerOptions(...))`` under ``if __name__ == "__main__"``: such a file
is run as ``__main__`` with ``run_app`` capturing its options instead of starting a
worker. The entrypoint runs in the supervisor process on a room of any transport,
after ``prewarm_fnc`` prepared its ``JobProcess``; the call ends when its pipeline
session closes (for a file: the input ended and the conversation went quiet), on
``ctx.shutdown()``, or on SIGTERM/SIGINT.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import inspect
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from pipeline.agents.app_capture import capturing_options
from pipeline.agents.job import JobContext
from pipeline.agents.job_process import JobProcess
from pipeline.agents.room import Room
from pipeline.agents.worker import WorkerOptions
from pipeline.supervisor.runtime import Runtime
from pipeline.supervisor.session import Session, SessionSummary

log = logging.getLogger("voxpipe.agent")

Entrypoint = Callable[[JobContext], Coroutine[Any, Any, Any]]
# Matches Runtime.stop's grace: SIGTERM finishes the session's files, then exits.
END_GRACE_S = 1.0


class AgentFileError(Exception):
    """The agent file cannot be used (missing, does not import, no entrypoint)."""


def load_entrypoint(path: Path) -> Entrypoint:
    """The entrypoint of agent file ``path``, its process prewarmed (see the module doc)."""
    if not path.is_file():
        raise AgentFileError(f"agent file not found: {path}")
    as_main = _calls_run_app_as_main(path)
    spec = importlib.util.spec_from_file_location(
        "__main__" if as_main else f"voxpipe_agent_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise AgentFileError(f"cannot import agent file {path}")
    module = importlib.util.module_from_spec(spec)
    options: WorkerOptions | None = None
    try:
        with capturing_options() as captured:
            spec.loader.exec_module(module)
        options = captured.options
    except Exception as exc:
        raise AgentFileError(f"agent file {path} failed to import: "
                             f"{type(exc).__name__}: {exc}") from exc
    entry = options.entrypoint_fnc if options is not None else getattr(module, "entrypoint",
                                                                       None)
    if entry is None or not inspect.iscoroutinefunction(entry):
        raise AgentFileError(f"agent file {path} must define 'async def entrypoint(ctx)'")
    if options is None:
        return entry  # type: ignore[no-any-return]
    try:
        return prewarmed(options)
    except Exception as exc:
        raise AgentFileError(f"agent file {path}: prewarm_fnc failed: "
                             f"{type(exc).__name__}: {exc}") from exc


def prewarmed(options: WorkerOptions) -> Entrypoint:
    """``options.entrypoint_fnc`` on a ``JobProcess`` that ``prewarm_fnc`` prepared now
    (once: every call of the entrypoint shares it, as a worker process's jobs do)."""
    proc = JobProcess()
    options.prewarm_fnc(proc)
    entry = options.entrypoint_fnc

    async def run(ctx: JobContext) -> Any:
        ctx.proc = proc
        return await entry(ctx)

    return run


def _calls_run_app_as_main(path: Path) -> bool:
    """Whether the file has an ``if __name__ == "__main__":`` block and calls ``run_app``
    (in that block, or in a function it calls)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return False  # exec_module reports it
    has_main = any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
                   for node in tree.body)
    return has_main and any(isinstance(node, ast.Call)
                            and ast.unparse(node.func).endswith("run_app")
                            for node in ast.walk(tree))


async def run_agent(entry: Entrypoint, runtime: Runtime, room: Room, *, stop: asyncio.Event,
                    on_session: Callable[[Session], None] | None = None,
                    proc: JobProcess | None = None, job: Any = None,
                    ) -> SessionSummary | None:
    """Run ``entry`` on ``room`` until the call ends or ``stop`` is set; the summary of
    the call's session (None if the agent never started one). ``on_session`` sees
    the session as soon as the agent has started it; ``proc`` and ``job`` are the
    context's (a LiveKit worker's prewarmed process data and dispatched job). A session
    that could not start raises its error here (``AdmissionRefused`` when the runtime
    had no headroom), so the caller can refuse the call rather than wait on it."""
    ctx = JobContext(room, runtime, proc=proc, job=job)
    if on_session is not None:
        room.on("session_bound", lambda sid: _call_with_session(runtime, sid, on_session))
    entry_task: asyncio.Task[Any] = asyncio.create_task(entry(ctx), name="agent-entrypoint")
    ended: asyncio.Task[SessionSummary | None] = asyncio.create_task(ctx.call_ended())
    waiters: set[asyncio.Future[Any]] = {
        ended, asyncio.ensure_future(stop.wait()), asyncio.ensure_future(runtime.failed.wait()),
        asyncio.ensure_future(ctx.shutdown_requested.wait())}
    try:
        done, _ = await asyncio.wait(waiters | {entry_task}, return_when=asyncio.FIRST_COMPLETED)
        if entry_task in done and entry_task.exception() is not None:
            raise entry_task.exception()  # type: ignore[misc]
        if entry_task in done:
            # The entrypoint returned after starting the agent: wait for the call.
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if ctx.shutdown_requested.is_set():
            log.info("the agent shut the job down: %s", ctx.shutdown_reason or "no reason given")
    finally:
        for w in (*waiters, entry_task):
            w.cancel()
        await ctx.run_shutdown_callbacks()
    if ctx.start_error is not None:
        raise ctx.start_error  # the call's session could not start (e.g. AdmissionRefused)
    if ended.done() and not ended.cancelled():
        return ended.result()
    sid = room.session_id
    session = runtime.sessions.get(sid) if sid is not None else None
    if session is None:
        return None
    if runtime.fault:
        return session.summary()  # the stages are gone: nothing will close it
    runtime.end_session(session.id)
    try:
        return await asyncio.wait_for(asyncio.shield(session.closed), END_GRACE_S)
    except TimeoutError:
        return session.summary()


def _call_with_session(runtime: Runtime, sid: str,
                       callback: Callable[[Session], None]) -> None:
    session = runtime.sessions.get(sid)
    if session is not None:
        callback(session)
