"""``run_worker``: what ``python agent.py start|dev|connect`` runs (``cli.run_app``).

One supervisor runtime (the stage processes) for the worker's lifetime; every
job runs on it as a session. SIGTERM/SIGINT drain the worker (``start``: the
running jobs get ``drain_timeout``; ``dev``/``connect``: they end now); a second
signal ends the jobs at once. Configuration and credential errors are one line
on stderr and exit code 1 (2 for a usage error), never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import sys
import threading
from collections.abc import AsyncIterator

from pipeline.agents.dispatch.agent_worker import Worker
from pipeline.agents.dispatch.jobs import RoomFactory
from pipeline.agents.dispatch.link import CredentialsRejected, ServerUnreachable
from pipeline.agents.dispatch.wire import agent_url
from pipeline.agents.room import Room
from pipeline.agents.worker import WorkerOptions
from pipeline.logs import setup_logging
from pipeline.supervisor.runtime import Runtime

log = logging.getLogger("voxpipe.worker")

MODES = ("start", "dev", "connect")


class WorkerConfigError(Exception):
    """Options or environment a worker cannot start with (exit code 1)."""


def livekit_room(url: str, token: str, *, participant_identity: str | None = None) -> Room:
    """The room of a job: the LiveKit room transport, imported when a job needs it."""
    try:
        module = importlib.import_module("pipeline.transports.livekit.room")
    except ImportError as exc:
        raise RuntimeError(f"the LiveKit room transport is unavailable: {exc}") from None
    room: Room = module.LiveKitRoom(url, token, participant_identity=participant_identity)
    return room


def check_options(opts: WorkerOptions) -> None:
    """Raise WorkerConfigError naming what is missing, as a livekit user sets it."""
    for name, value, env in (("api_key", opts.api_key, "LIVEKIT_API_KEY"),
                             ("api_secret", opts.api_secret, "LIVEKIT_API_SECRET"),
                             ("ws_url", opts.ws_url, "LIVEKIT_URL")):
        if not value:
            raise WorkerConfigError(f"{env} is not set (or pass WorkerOptions({name}=...))")
    try:
        agent_url(opts.ws_url)
    except ValueError as exc:
        raise WorkerConfigError(f"LIVEKIT_URL: {exc}") from None


async def serve_worker(opts: WorkerOptions, mode: str, *, room: str | None = None,
                       participant_identity: str | None = None,
                       room_factory: RoomFactory | None = None,
                       runtime: Runtime | None = None,
                       stop: asyncio.Event | None = None) -> None:
    """The worker on this loop until ``stop`` (or SIGTERM/SIGINT, on the main thread);
    ``runtime``: an already started one to share (default: a new one for the worker)."""
    stop = stop or asyncio.Event()
    drain_timeout = float(opts.drain_timeout) if mode == "start" else 0.0
    workers: list[Worker] = []  # the signal handlers are in place before it exists
    async with _signals(stop, workers), _runtime(runtime) as rt:
        worker = Worker(opts, rt, room_factory=room_factory or livekit_room,
                        connect_room=room if mode == "connect" else None,
                        participant_identity=participant_identity)
        workers.append(worker)
        await worker.run(stop, drain_timeout)


def run_worker(opts: WorkerOptions, mode: str, *, room: str | None = None,
               participant_identity: str | None = None, log_level: str = "INFO",
               room_factory: RoomFactory | None = None) -> int:
    """Run a LiveKit agent worker in ``mode`` ("start", "dev", "connect"); the exit code."""
    setup_logging(log_level)
    if mode not in MODES:
        return _fail(f"unknown worker mode {mode!r} (choose from {', '.join(MODES)})", 2)
    if mode == "connect" and not room:
        return _fail("connect needs --room NAME", 2)
    try:
        check_options(opts)
        asyncio.run(serve_worker(opts, mode, room=room,
                                 participant_identity=participant_identity,
                                 room_factory=room_factory))
    except (WorkerConfigError, CredentialsRejected, ServerUnreachable) as exc:
        return _fail(str(exc), 1)
    except RuntimeError as exc:  # the runtime's stages could not start
        return _fail(str(exc), 1)
    return 0


def _fail(message: str, code: int) -> int:
    print(f"voxpipe: error: {message}", file=sys.stderr, flush=True)
    return code


@contextlib.asynccontextmanager
async def _runtime(shared: Runtime | None) -> AsyncIterator[Runtime]:
    if shared is not None:
        yield shared
        return
    async with Runtime() as runtime:
        yield runtime


@contextlib.asynccontextmanager
async def _signals(stop: asyncio.Event, workers: list[Worker]) -> AsyncIterator[None]:
    """SIGTERM/SIGINT set ``stop`` (the worker drains; one still starting stops at
    once); a second one ends the running jobs now."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            log.warning("second signal: ending the running jobs now")
            for worker in workers:
                worker.jobs.end_all()
        stop.set()

    sigs = (signal.SIGTERM, signal.SIGINT)
    for sig in sigs:
        loop.add_signal_handler(sig, on_signal)
    try:
        yield
    finally:
        for sig in sigs:
            loop.remove_signal_handler(sig)
