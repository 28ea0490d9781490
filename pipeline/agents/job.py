"""``JobContext``: what an agent entrypoint gets, as in livekit-agents.

``voxpipe run --agent FILE`` imports FILE, builds a context around a file room
and the supervisor's runtime, and awaits ``entrypoint(ctx)``; the call ends when
the caller's input has ended and the conversation has gone quiet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pipeline.supervisor.runtime import Runtime
from pipeline.supervisor.session import SessionSummary
from pipeline.transports.file.room import FileParticipant, FileRoom

log = logging.getLogger("voxpipe.agent")


class JobContext:
    def __init__(self, room: FileRoom, runtime: Runtime) -> None:
        self.room = room
        self.runtime = runtime
        self._shutdown_callbacks: list[Callable[[], Awaitable[Any]]] = []

    async def connect(self) -> None:
        """Join the room (the caller joins too, after the room's ``join_after_s``)."""
        await self.room.connect(self.runtime)

    async def wait_for_participant(self, identity: str | None = None) -> FileParticipant:
        return await self.room.wait_for_participant(identity)

    def add_shutdown_callback(self, callback: Callable[[], Awaitable[Any]]) -> None:
        """Awaited when the call ends (after the session closed)."""
        self._shutdown_callbacks.append(callback)

    async def run_shutdown_callbacks(self) -> None:
        for callback in self._shutdown_callbacks:
            try:
                await callback()
            except Exception:
                log.exception("shutdown callback failed")

    async def call_ended(self) -> SessionSummary | None:
        """Wait for the room's pipeline session to be closed; its summary."""
        while self.room.session_id is None:
            await asyncio.sleep(0.05)
        session = self.runtime.sessions.get(self.room.session_id)
        if session is None:
            return None
        return await asyncio.shield(session.closed)
