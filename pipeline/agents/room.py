"""``Room``: what the agent API needs of a call, whatever carries its audio.

The shape is ``livekit.rtc.Room``'s, as ``MultimodalAgent`` uses it: remote
participants with microphone publications, ``participant_connected`` /
``track_published`` / ``track_subscribed`` events, a local participant whose
attributes carry the agent state. voxpipe adds what joins a room to the process
pipeline: the runtime it was connected on, ``transport()`` (the spec of the
linked caller's audio, which the stages serve), the session record's ``out_dir``,
``bind_session`` and ``publish`` (agent events onto the session timeline).

Each transport brings its own room (``pipeline/transports/<kind>/room.py``); the
agent API depends on this protocol only, never on a transport.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ipc.schema import SessionEvent, Transport
    from pipeline.supervisor.runtime import Runtime

# livekit's room events, plus voxpipe's "session_bound" (session id): the call's
# pipeline session has started, and "session_failed" (the exception): it could not start.
RoomEvent = Literal["participant_connected", "participant_disconnected", "track_published",
                    "track_subscribed", "disconnected", "session_bound", "session_failed",
                    "sip_dtmf_received"]
SOURCE_MICROPHONE = "microphone"
ATTRIBUTE_AGENT_STATE = "lk.agent.state"


class Track(Protocol):
    """A subscribed remote track (the caller's microphone)."""

    @property
    def sid(self) -> str: ...


class TrackPublication(Protocol):
    """A remote participant's published track; subscribing starts the call's audio."""

    @property
    def sid(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def subscribed(self) -> bool: ...

    @property
    def track(self) -> Track | None: ...

    def set_subscribed(self, subscribed: bool) -> None: ...


@runtime_checkable
class RemoteParticipant(Protocol):
    """The caller side of a room."""

    @property
    def identity(self) -> str: ...

    @property
    def track_publications(self) -> Mapping[str, TrackPublication]: ...


class LocalParticipant(Protocol):
    """The agent side of a room: its attributes and transcriptions."""

    @property
    def identity(self) -> str: ...

    async def set_attributes(self, attributes: dict[str, str]) -> None: ...

    async def publish_transcription(self, participant: str, segment_id: str, text: str,
                                    final: bool) -> None: ...


@runtime_checkable
class Room(Protocol):
    """A call as the agent API sees it (see the module docstring)."""

    @property
    def name(self) -> str: ...

    @property
    def remote_participants(self) -> Mapping[str, RemoteParticipant]: ...

    @property
    def local_participant(self) -> LocalParticipant: ...

    @property
    def out_dir(self) -> Path:
        """Where the session record (events.jsonl, conversation.wav) is written."""
        ...

    @property
    def runtime(self) -> Runtime | None:
        """The runtime the room was connected on (None before ``connect``)."""
        ...

    @property
    def session_id(self) -> str | None:
        """The pipeline session carrying the call (None until ``bind_session``)."""
        ...

    def on(self, event: RoomEvent, callback: Callable[..., Any] | None = None) -> Any: ...

    def off(self, event: RoomEvent, callback: Callable[..., Any]) -> None: ...

    def emit(self, event: RoomEvent, *args: Any) -> None: ...

    def isconnected(self) -> bool: ...

    async def connect(self, runtime: Runtime) -> None:
        """Join the call on ``runtime``; the caller joins (now or later)."""
        ...

    async def disconnect(self) -> None: ...

    def transport(self) -> Transport:
        """The spec of the linked caller's audio: the stages serve the session by it."""
        ...

    def bind_session(self, runtime: Runtime, session_id: str) -> None:
        """The pipeline session that carries this call: what waited for it is published,
        then ``session_bound`` is emitted with the session id."""
        ...

    def publish(self, event: SessionEvent) -> None:
        """Put an agent event on the call's timeline (events.jsonl)."""
        ...
