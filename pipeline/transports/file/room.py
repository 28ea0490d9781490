"""``FileRoom``: a call whose caller is a WAV file and whose record is a directory.

It has the shape of ``livekit.rtc.Room`` that ``MultimodalAgent`` uses: remote
participants with microphone publications, ``participant_connected`` /
``track_published`` / ``track_subscribed`` events, a local participant whose
attributes carry the agent state. Subscribing to the caller's microphone starts
the pipeline session; what the agent publishes (state, transcriptions) goes on
the session timeline, ``events.jsonl``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pipeline.agents.event_emitter import EventEmitter

if TYPE_CHECKING:
    from pipeline.supervisor.runtime import Runtime

RoomEvent = Literal["participant_connected", "participant_disconnected", "track_published",
                    "track_subscribed", "disconnected"]
SOURCE_MICROPHONE = "microphone"
ATTRIBUTE_AGENT_STATE = "lk.agent.state"


@dataclass(eq=False)
class FileAudioTrack:
    """The caller's microphone: the input file."""

    sid: str
    path: Path


@dataclass(eq=False)
class FileTrackPublication:
    sid: str
    room: FileRoom
    participant: FileParticipant
    source: str = SOURCE_MICROPHONE
    subscribed: bool = False
    track: FileAudioTrack | None = None

    def set_subscribed(self, subscribed: bool) -> None:
        if subscribed and not self.subscribed:
            self.subscribed = True
            self.track = FileAudioTrack(f"TR_{self.sid}", self.room.input_path)
            self.room.emit("track_subscribed", self.track, self, self.participant)


@dataclass(eq=False)
class FileParticipant:
    identity: str
    track_publications: dict[str, FileTrackPublication] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)


class FileLocalParticipant:
    """The agent's side: attributes and transcriptions land on the timeline."""

    def __init__(self, room: FileRoom) -> None:
        self.identity = "agent"
        self.attributes: dict[str, str] = {}
        self._room = room

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self.attributes.update(attributes)
        self._room.publish("participant_attributes", {"attributes": dict(attributes)})

    async def publish_transcription(self, participant: str, segment_id: str, text: str,
                                    final: bool) -> None:
        self._room.publish("transcription", {"participant": participant, "segment_id":
                                             segment_id, "text": text, "final": final})


class FileRoom(EventEmitter[RoomEvent]):
    def __init__(self, input_path: Path | str, out_dir: Path | str, *,
                 caller_identity: str = "caller", realtime: bool = True,
                 join_after_s: float = 0.0) -> None:
        super().__init__()
        self.input_path = Path(input_path)
        self.out_dir = Path(out_dir)
        self.name = self.out_dir.name
        self.realtime = realtime
        self.caller_identity = caller_identity
        self.join_after_s = join_after_s
        self.remote_participants: dict[str, FileParticipant] = {}
        self.local_participant = FileLocalParticipant(self)
        self.runtime: Runtime | None = None
        self.session_id: str | None = None
        self._connected = False
        self._joined = asyncio.Event()
        self._unsent: list[tuple[str, dict[str, Any]]] = []
        self._join_task: asyncio.Task[None] | None = None

    def isconnected(self) -> bool:
        return self._connected

    async def connect(self, runtime: Runtime) -> None:
        """Enter the room; the caller joins after ``join_after_s``."""
        if not self.input_path.is_file():
            raise FileNotFoundError(f"input not found: {self.input_path}")
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
        p = FileParticipant(self.caller_identity)
        pub = FileTrackPublication("mic", self, p)
        p.track_publications[pub.sid] = pub
        self.remote_participants[p.identity] = p
        self._joined.set()
        self.emit("participant_connected", p)
        self.emit("track_published", pub, p)

    async def wait_for_participant(self, identity: str | None = None) -> FileParticipant:
        while True:
            for p in self.remote_participants.values():
                if identity is None or p.identity == identity:
                    return p
            self._joined.clear()
            await self._joined.wait()

    def bind_session(self, session_id: str) -> None:
        """The pipeline session that carries this call; flushes what waited for it."""
        self.session_id = session_id
        for kind, data in self._unsent:
            self.publish(kind, data)
        self._unsent.clear()

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Put an event on the call's timeline (events.jsonl)."""
        if self.runtime is None or self.session_id is None:
            self._unsent.append((kind, data))
            return
        self.runtime.note(self.session_id, kind, data)

    async def disconnect(self) -> None:
        self._connected = False
        if self._join_task is not None:
            self._join_task.cancel()
        self.emit("disconnected")
