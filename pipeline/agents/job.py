"""``JobContext`` and ``AutoSubscribe``: what an agent entrypoint gets, as in livekit-agents 0.12.

``voxpipe run`` builds a context around a room (a file room for ``--input``) and
the supervisor's runtime, and awaits ``entrypoint(ctx)``; the call ends when the
pipeline session carrying the room's call has closed (or on ``ctx.shutdown()``).
The LiveKit worker (``pipeline.agents.dispatch``) builds one per job with its
``proc`` and ``job``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pipeline.agents.job_process import JobProcess
from pipeline.agents.room import SOURCE_MICROPHONE, LocalParticipant, RemoteParticipant, Room
from pipeline.supervisor.runtime import Runtime
from pipeline.supervisor.session import Session, SessionSummary

log = logging.getLogger("voxpipe.agent")


class AutoSubscribe(enum.StrEnum):
    """Which remote tracks ``connect`` subscribes to. voxpipe's remote audio is the
    caller's microphone: ``SUBSCRIBE_ALL`` and ``AUDIO_ONLY`` subscribe to it at once,
    the others leave it to the agent (``MultimodalAgent.start`` subscribes itself)."""

    SUBSCRIBE_ALL = "subscribe_all"
    SUBSCRIBE_NONE = "subscribe_none"
    AUDIO_ONLY = "audio_only"
    VIDEO_ONLY = "video_only"


class JobContext:
    def __init__(self, room: Room, runtime: Runtime, *, proc: JobProcess | None = None,
                 job: Any = None) -> None:
        """``proc``: the ``JobProcess`` that ``prewarm_fnc`` prepared (a fresh one if none);
        ``job``: the LiveKit job this context runs (None for a file or served call)."""
        if not isinstance(room, Room):
            raise TypeError("room must implement pipeline.agents.room.Room, got "
                            f"{type(room).__name__}")
        self.room = room
        self.runtime = runtime
        self.proc = proc if proc is not None else JobProcess()
        # The dispatched job (``livekit.protocol.agent.Job``); None off a LiveKit worker.
        self.job = job
        self.shutdown_requested = asyncio.Event()
        self.shutdown_reason = ""
        self._shutdown_callbacks: list[Callable[[], Awaitable[Any]]] = []
        # Taken when the room is bound, while the session is surely still in the
        # runtime: a session that fails at once is closed and gone moments later.
        self._session: asyncio.Future[Session | None] = (
            asyncio.get_running_loop().create_future())
        room.on("session_bound", self._on_session_bound)
        room.on("session_failed", self._on_session_failed)
        # Why the call's session could not start (refused for headroom, a bad spec).
        self.start_error: Exception | None = None

    @property
    def agent(self) -> LocalParticipant:
        """The agent's own participant in the room."""
        return self.room.local_participant

    async def connect(self, *, e2ee: Any = None,
                      auto_subscribe: AutoSubscribe = AutoSubscribe.SUBSCRIBE_ALL,
                      rtc_config: Any = None) -> None:
        """Join the room on this context's runtime; the caller joins too. ``e2ee`` and
        ``rtc_config`` (LiveKit room options) must be None: voxpipe's rooms take none."""
        if e2ee is not None or rtc_config is not None:
            raise ValueError("e2ee and rtc_config are not supported on this room")
        auto_subscribe = AutoSubscribe(auto_subscribe)
        await self.room.connect(self.runtime)
        if auto_subscribe in (AutoSubscribe.SUBSCRIBE_ALL, AutoSubscribe.AUDIO_ONLY):
            for participant in self.room.remote_participants.values():
                _subscribe_audio(participant)
            self.room.on("track_published", lambda _pub, p: _subscribe_audio(p))

    def shutdown(self, reason: str = "") -> None:
        """End the job: the call is ended and the shutdown callbacks run."""
        self.shutdown_reason = reason
        self.shutdown_requested.set()

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

    def _on_session_failed(self, error: Exception) -> None:
        self.start_error = error
        if not self._session.done():
            self._session.set_result(None)

    async def session(self) -> Session | None:
        """The pipeline session carrying the room's call, once the agent started it."""
        return await asyncio.shield(self._session)

    async def call_ended(self) -> SessionSummary | None:
        """Wait for the room's pipeline session to be closed; its summary."""
        session = await self.session()
        if session is None:
            return None
        return await asyncio.shield(session.closed)


def _subscribe_audio(participant: RemoteParticipant) -> None:
    for publication in participant.track_publications.values():
        if publication.source == SOURCE_MICROPHONE and not publication.subscribed:
            publication.set_subscribed(True)
