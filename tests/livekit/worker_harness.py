"""voxpipe LiveKit workers in-process for the dispatch tests: ``serve_worker`` on a
loop of its own thread (the fake server has another), sharing one Runtime, and
file rooms in place of LiveKit rooms (no media server here)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.agents.dispatch import serve_worker
from pipeline.agents.room import Room
from pipeline.agents.worker import WorkerOptions
from pipeline.supervisor.runtime import Runtime
from pipeline.transports.file.room import FileRoom

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "examples" / "audio" / "requests" / "hello.wav"


async def idle_entrypoint(ctx: Any) -> None:
    """A job that ends as soon as it starts: it never joins its room."""


@dataclass
class FileRooms:
    """A room factory: each job's room is a file room of ``wav`` (its record in
    ``out/job-N``); what the worker built each from is kept."""

    out: Path
    wav: Path = HELLO
    made: list[tuple[str, str, str | None]] = field(default_factory=list)
    rooms: list[Room] = field(default_factory=list)

    def __call__(self, url: str, token: str, *, participant_identity: str | None = None) -> Room:
        self.made.append((url, token, participant_identity))
        room = FileRoom(self.wav, self.out / f"job-{len(self.made)}")
        self.rooms.append(room)
        return room


def options(server: Any, **kw: Any) -> WorkerOptions:
    """Worker options aimed at ``server`` (a FakeDispatchServer)."""
    kw.setdefault("entrypoint_fnc", idle_entrypoint)
    return WorkerOptions(ws_url=server.url, api_key=server.api_key,
                         api_secret=server.api_secret, **kw)


class Workers:
    """``with Workers(tmp, opts_a, opts_b) as w:`` both run until the block ends."""

    def __init__(self, out: Path, *opts: WorkerOptions, mode: str = "start",
                 room: str | None = None, participant_identity: str | None = None,
                 rooms: Any = None) -> None:
        self.opts = opts
        self.mode = mode
        self.connect = {"room": room, "participant_identity": participant_identity}
        self.rooms = rooms if rooms is not None else FileRooms(out)
        self.errors: list[BaseException | None] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stops: list[asyncio.Event] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stops = [asyncio.Event() for _ in self.opts]
        try:
            async with Runtime() as runtime:
                self._ready.set()
                pairs = zip(self.opts, self._stops, strict=True)
                results = await asyncio.gather(*(
                    serve_worker(o, self.mode, room_factory=self.rooms, runtime=runtime,
                                 stop=stop, **self.connect) for o, stop in pairs
                ), return_exceptions=True)
                self.errors = [r if isinstance(r, BaseException) else None for r in results]
        finally:
            self._ready.set()

    def __enter__(self) -> Workers:
        self._thread.start()
        self._ready.wait(60)
        return self

    def stop(self, timeout: float = 60.0) -> list[BaseException | None]:
        """Drain every worker (as SIGTERM does) and wait; each worker's error or None."""
        if self._loop is not None and self._thread.is_alive():
            for stop in self._stops:
                self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the workers did not stop"
        return self.errors

    def ended(self, timeout: float) -> list[BaseException | None]:
        """Wait for every worker to end by itself; each one's error or None."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the workers went on"
        return self.errors

    def __exit__(self, *exc: object) -> None:
        self.stop()
