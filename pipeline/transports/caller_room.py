"""``CallerRoom``: the agent half every one-caller transport shares.

A transport's room (``pipeline.agents.room.Room``) differs from the next one's
only in where the caller's audio is (``transport()``) and how the caller joins;
the livekit-shaped rest lives here once: one remote participant publishing a
microphone, subscribing to it fires ``track_subscribed`` (the agent then starts
the pipeline session), and what the agent publishes (state attributes,
transcriptions) goes on the session timeline, held until the session is bound.
A key the caller presses (``DtmfReceived``: RFC 4733 on SIP/RTP, a media stream's
``dtmf``) is LiveKit's ``"sip_dtmf_received"`` room event, an ``SipDTMF``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from ipc.schema import (
    DtmfReceived,
    ParticipantAttributes,
    SessionEvent,
    StageEvent,
    Transcription,
    Transport,
)
from pipeline.agents.event_emitter import EventEmitter
from pipeline.agents.room import SOURCE_MICROPHONE, RoomEvent

if TYPE_CHECKING:
    from pipeline.supervisor.runtime import Runtime

T = TypeVar("T", bound=Transport)


@dataclass(eq=False)
class CallerTrack:
    """The caller's microphone as the agent subscribes to it."""

    sid: str


@dataclass(eq=False)
class CallerPublication:
    sid: str
    room: CallerRoom
    participant: CallerParticipant
    source: str = SOURCE_MICROPHONE
    subscribed: bool = False
    track: CallerTrack | None = None

    def set_subscribed(self, subscribed: bool) -> None:
        if subscribed and not self.subscribed:
            self.subscribed = True
            self.track = self.room.caller_track(f"TR_{self.sid}")
            self.room.emit("track_subscribed", self.track, self, self.participant)


@dataclass(eq=False)
class CallerParticipant:
    identity: str
    track_publications: dict[str, CallerPublication] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class SipDTMF:
    """A key the caller pressed, shaped as ``livekit.rtc.SipDTMF``."""

    code: int
    digit: str
    participant: CallerParticipant | None = None


class AgentParticipant:
    """The agent's side: attributes and transcriptions land on the timeline."""

    def __init__(self, room: CallerRoom) -> None:
        self.identity = "agent"
        self.attributes: dict[str, str] = {}
        self._room = room

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self.attributes.update(attributes)
        self._room.publish(ParticipantAttributes(dict(attributes)))

    async def publish_transcription(self, participant: str, segment_id: str, text: str,
                                    final: bool) -> None:
        self._room.publish(Transcription(participant, segment_id, text, final))


class CallerRoom(EventEmitter[RoomEvent], ABC):
    """A call with one remote caller; subclasses say where its audio is."""

    def __init__(self, out_dir: Path | str, *, caller_identity: str = "caller",
                 join_after_s: float = 0.0) -> None:
        super().__init__()
        self.out_dir = Path(out_dir)
        self.name = self.out_dir.name
        self.caller_identity = caller_identity
        self.join_after_s = join_after_s
        self.remote_participants: dict[str, CallerParticipant] = {}
        self.local_participant = AgentParticipant(self)
        self.runtime: Runtime | None = None
        self.session_id: str | None = None
        self._connected = False
        self._unsent: list[SessionEvent] = []
        self._join_task: asyncio.Task[None] | None = None

    @abstractmethod
    def transport(self) -> Transport:
        """The spec of the caller's audio."""

    def caller_track(self, sid: str) -> CallerTrack:
        """The caller's microphone track, made when the agent subscribes to it."""
        return CallerTrack(sid)

    def isconnected(self) -> bool:
        return self._connected

    async def connect(self, runtime: Runtime) -> None:
        """Enter the room; the caller joins after ``join_after_s``."""
        self.runtime = runtime
        self._connected = True
        if self.join_after_s <= 0:
            self._caller_joins()
        else:
            self._join_task = asyncio.get_running_loop().create_task(self._join_later())

    async def _join_later(self) -> None:
        await asyncio.sleep(self.join_after_s)
        self._caller_joins()

    def _caller_joins(self) -> None:
        p = CallerParticipant(self.caller_identity)
        pub = CallerPublication("mic", self, p)
        p.track_publications[pub.sid] = pub
        self.remote_participants[p.identity] = p
        self.emit("participant_connected", p)
        self.emit("track_published", pub, p)

    def bind_session(self, runtime: Runtime, session_id: str) -> None:
        """The pipeline session that carries this call; flushes what waited for it."""
        self.runtime, self.session_id = runtime, session_id
        session = runtime.sessions.get(session_id)
        if session is not None:
            session.on(self._on_session_event)
        for event in self._unsent:
            self.publish(event)
        self._unsent.clear()
        self.emit("session_bound", session_id)

    def _on_session_event(self, ev: StageEvent) -> None:
        e = ev.event
        if isinstance(e, DtmfReceived):
            caller = self.remote_participants.get(self.caller_identity)
            self.emit("sip_dtmf_received", SipDTMF(e.code, e.digit, caller))

    def publish(self, event: SessionEvent) -> None:
        """Put an event on the call's timeline (events.jsonl)."""
        if self.runtime is None or self.session_id is None:
            self._unsent.append(event)
            return
        self.runtime.note(self.session_id, event)

    async def disconnect(self) -> None:
        self._connected = False
        if self._join_task is not None:
            self._join_task.cancel()
        self.emit("disconnected")


class SpecRoom(CallerRoom, Generic[T]):
    """A caller room whose audio is where one transport spec says (the spec built by the
    signalling that admitted the call: an offer, an INVITE, a media stream)."""

    def __init__(self, spec: T, out_dir: Path | str, *,
                 caller_identity: str = "caller") -> None:
        super().__init__(out_dir, caller_identity=caller_identity)
        self.spec = spec

    def transport(self) -> T:
        return self.spec
