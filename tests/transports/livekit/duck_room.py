"""A duck-typed ``livekit.rtc.Room`` for the edge connection's tests.

The room events need a LiveKit server, which cannot run here; everything else is
the SDK's own: a caller's microphone is a real ``rtc.LocalAudioTrack`` on a real
``rtc.AudioSource`` (``CallerMic``), so the connection reads it through a real
``rtc.AudioStream``, and the agent's voice track it publishes is the real one.
The room emits its events with the arguments ``rtc.Room`` emits them with
(``test_duck_room_is_faithful`` checks that against the SDK's source).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import rtc

MIC_RATE = 48000
_sids = itertools.count(1)


class CallerMic:
    """A caller's microphone: frames pushed into a real source behind a real track."""

    def __init__(self, rate: int = MIC_RATE) -> None:
        self.rate = rate
        self.source = rtc.AudioSource(rate, 1, queue_size_ms=1000)
        self.track = rtc.LocalAudioTrack.create_audio_track("microphone", self.source)

    async def say(self, samples: np.ndarray, frame: int = 480) -> None:
        for i in range(0, len(samples), frame):
            chunk = np.ascontiguousarray(samples[i : i + frame], dtype=np.int16)
            await self.source.capture_frame(rtc.AudioFrame(chunk.tobytes(), self.rate, 1,
                                                           len(chunk)))

    async def aclose(self) -> None:
        await self.source.aclose()


@dataclass(eq=False)
class DuckPublication:
    room: DuckRoom
    participant: DuckParticipant
    mic: CallerMic | None
    source: int = rtc.TrackSource.SOURCE_MICROPHONE
    sid: str = field(default_factory=lambda: f"TR_caller{next(_sids)}")
    subscribed: bool = False
    track: Any = None
    subscribe_calls: int = 0

    def set_subscribed(self, subscribed: bool) -> None:
        """As the server would: the subscription arrives as ``track_subscribed``."""
        self.subscribe_calls += 1
        if subscribed and not self.subscribed and self.mic is not None:
            self.subscribed = True
            self.track = self.mic.track
            self.room.emit("track_subscribed", self.track, self, self.participant)


@dataclass(eq=False)
class DuckParticipant:
    identity: str
    track_publications: dict[str, DuckPublication] = field(default_factory=dict)


@dataclass
class DuckLocalPublication:
    sid: str
    track: Any


class DuckLocalParticipant:
    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.published: list[tuple[Any, Any]] = []
        self.attributes: list[dict[str, str]] = []
        self.transcriptions: list[rtc.Transcription] = []

    async def publish_track(self, track: Any, options: Any = None) -> DuckLocalPublication:
        self.published.append((track, options))
        return DuckLocalPublication("TR_agentvoice", track)

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self.attributes.append(dict(attributes))

    async def publish_transcription(self, transcription: rtc.Transcription) -> None:
        self.transcriptions.append(transcription)


class DuckRoom:
    """Participants and events, driven by the test (``join``, ``leave``, ``emit``)."""

    def __init__(self) -> None:
        self.name = "duck-room"
        self.remote_participants: dict[str, DuckParticipant] = {}
        self.local_participant = DuckLocalParticipant("agent-1")
        self.connected_with: tuple[str, str, Any] | None = None
        self.disconnects = 0
        self._handlers: dict[str, list[Callable[..., Any]]] = {}

    def on(self, event: str, callback: Callable[..., Any]) -> Callable[..., Any]:
        self._handlers.setdefault(event, []).append(callback)
        return callback

    def emit(self, event: str, *args: Any) -> None:
        for callback in list(self._handlers.get(event, [])):
            callback(*args)

    async def connect(self, url: str, token: str, options: Any = None) -> None:
        self.connected_with = (url, token, options)

    async def disconnect(self) -> None:
        self.disconnects += 1
        self.emit("disconnected", "CLIENT_INITIATED")

    # -- what the server would do ------------------------------------------------
    def add(self, identity: str, mic: CallerMic | None) -> DuckParticipant:
        """A participant already in the room (before the agent connects)."""
        p = DuckParticipant(identity)
        if mic is not None:
            self.publication(p, mic)
        self.remote_participants[identity] = p
        return p

    def publication(self, p: DuckParticipant, mic: CallerMic) -> DuckPublication:
        pub = DuckPublication(self, p, mic)
        p.track_publications[pub.sid] = pub
        return pub

    def join(self, identity: str, mic: CallerMic | None) -> DuckParticipant:
        p = self.add(identity, mic)
        self.emit("participant_connected", p)
        return p

    def leave(self, identity: str) -> None:
        self.emit("participant_disconnected", self.remote_participants.pop(identity))

    def unpublish(self, p: DuckParticipant, pub: DuckPublication) -> None:
        del p.track_publications[pub.sid]
        self.emit("track_unpublished", pub, p)

    def publish(self, p: DuckParticipant, mic: CallerMic) -> DuckPublication:
        pub = self.publication(p, mic)
        self.emit("track_published", pub, p)
        return pub
