"""``JobContext``: what an agent entrypoint gets, as in livekit-agents.

``voxpipe run`` builds a context around a room (a file room for ``--input``) and
the supervisor's runtime, and awaits ``entrypoint(ctx)``; the call ends when the
pipeline session carrying the room's call has closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pipeline.agents.job_process import JobProcess
from pipeline.agents.room import RemoteParticipant, Room
from pipeline.supervisor.runtime import Runtime
from pipeline.supervisor.session import Session, SessionSummary

log = logging.getLogger("voxpipe.agent")

class JobContext:
    def __init__(self, room: Room, runtime: Runtime, *, proc: JobProcess | None = None,
                 job: Any = None) -> None:
        if not isinstance(room, Room):
            raise TypeError("room must implement pipeline.agents.room.Room, got "
                            f"{type(room).__name__}")
        self.room = room
        self.runtime = runtime
        self.proc = proc if proc is not None else JobProcess()
        # The dispatched job (``livekit.protocol.agent.Job``); None off a LiveKit worker.
        self.job = job
        self._shutdown_callbacks: list[Callable[[], Awaitable[Any]]] = []
        # Taken when the room is bound, while the session is surely still in the
        # runtime: a session that fails at once is closed and gone moments later.
        self._session: asyncio.Future[Session | None] = (
            asyncio.get_running_loop().create_future())
        room.on("session_bound", self._on_session_bound)

    async def connect(self) -> None:
        """Join the room on this context's runtime; the caller joins too."""
        await self.room.connect(self.runtime)

    async def wait_for_participant(self, identity: str | None = None) -> RemoteParticipant:
        """The first remote participant (with ``identity``, if given), once it has joined."""
        joined: asyncio.Future[RemoteParticipant] = asyncio.get_running_loop().create_future()

        def on_connected(participant: RemoteParticipant) -> None:
            if not joined.done() and identity in (None, participant.identity):
                joined.set_result(participant)

        for participant in self.room.remote_participants.values():
            if identity in (None, participant.identity):
                return participant
        self.room.on("participant_connected", on_connected)
        try:
            return await joined
        finally:
            self.room.off("participant_connected", on_connected)

    def add_shutdown_callback(self, callback: Callable[[], Awaitable[Any]]) -> None:
        """Awaited when the call ends (after the session closed)."""
        self._shutdown_callbacks.append(callback)

    async def run_shutdown_callbacks(self) -> None:
        for callback in self._shutdown_callbacks:
            try:
                await callback()
            except Exception:
                log.exception("shutdown callback failed")

    def _on_session_bound(self, session_id: str) -> None:
        if not self._session.done():
            self._session.set_result(self.runtime.sessions.get(session_id))

    async def session(self) -> Session | None:
        """The pipeline session carrying the room's call, once the agent started it."""
        return await asyncio.shield(self._session)

    async def call_ended(self) -> SessionSummary | None:
        """Wait for the room's pipeline session to be closed; its summary."""
        session = await self.session()
        if session is None:
            return None
        return await asyncio.shield(session.closed)
