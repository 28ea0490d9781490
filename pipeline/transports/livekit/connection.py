"""The LiveKit transport's edge half: one ``rtc.Room`` per session, joined as the agent.

``open`` connects with the spec's URL and token (``auto_subscribe`` off: only the
linked participant's microphone is subscribed), publishes the agent's voice
(``voice.py``) and links a participant (``link.py``). The linked microphone is read
through an ``rtc.AudioStream`` at 48 kHz mono — Opus's own rate, so the SDK does not
resample; dsp's native kernel takes it to the model's rate — and each frame's int16
goes to the edge as it comes. A republished microphone (or one renewed by a room
reconnect) is read in place of the old; while none is published the input is quiet.
The agent's notes become transcriptions and attributes in the room (``notes.py``).

The session's input ends (``receive`` gives ``b""``) when the linked participant
leaves or the room disconnects; the edge reports whom it linked and why it ended
(``ParticipantLinked`` / ``ParticipantLeft``) for the agent's room. The room object
comes from ``room_factory`` (``rtc.Room``; tests pass a duck-typed room).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Final

from livekit import rtc

from ipc.schema import LiveKitTransport, ParticipantLeft, ParticipantLinked, SessionConfig
from pipeline.logs import session_extra
from pipeline.transports.base import AudioFormat, EdgeConnectionDefaults, EmitEvent
from pipeline.transports.livekit.link import MICROPHONE, ParticipantLink
from pipeline.transports.livekit.notes import NotePublisher, Speakers
from pipeline.transports.livekit.voice import AgentVoice

log = logging.getLogger("voxpipe.edge.livekit")

CALLER_FORMAT: Final = AudioFormat(48000, 1)
# Caller frames (10 ms each) waiting for the edge: past this, the oldest go.
MAX_INBOUND: Final = 200
_END: Final = b""


class LiveKitConnection(EdgeConnectionDefaults):
    """One session's LiveKit room (an ``EdgeConnection``).

    Reopenable: after an edge restart the new edge joins the room again with the
    session's token (the server replaces the dead process's participant)."""

    reopenable = True
    #: Joining a room and publishing the voice track are round trips to a server that
    #: may be far and loaded: seconds, not a socket's milliseconds.
    open_timeout_s = 20.0

    def __init__(self, cfg: SessionConfig, emit: EmitEvent, *,
                 room_factory: Callable[[], Any] = rtc.Room) -> None:
        if not isinstance(cfg.transport, LiveKitTransport):
            raise TypeError(f"not a livekit transport: {cfg.transport!r}")
        if not cfg.transport.url or not cfg.transport.token:
            raise ValueError("a livekit transport needs a url and a token")
        self.spec = cfg.transport
        self.session = cfg.session
        self._emit = emit
        self.room = room_factory()
        self.voice = AgentVoice(cfg.output_rate)
        self.speakers = Speakers()
        self.notes = NotePublisher(self.room, self.speakers, cfg.session)
        self.link = ParticipantLink(self.room, self.spec.participant_identity,
                                    session=cfg.session, on_linked=self._linked,
                                    on_track=self._read, on_track_gone=self._stop_reading,
                                    on_end=self._end)
        self.frames_in = 0
        self.frames_dropped = 0
        self.tracks_read = 0
        self.stream_failures = 0
        self._inbound: asyncio.Queue[bytes] = asyncio.Queue(MAX_INBOUND)
        self._reader: asyncio.Task[None] | None = None
        self._ended = self._closing = False

    # -- EdgeConnection ----------------------------------------------------------
    async def open(self) -> AudioFormat:
        """Join the room, publish the agent's voice, link a participant."""
        await self.room.connect(self.spec.url, self.spec.token,
                                rtc.RoomOptions(auto_subscribe=False))
        log.info("joined room %s as %s", self.spec.room or getattr(self.room, "name", "?"),
                 self.room.local_participant.identity, extra=session_extra(self.session))
        publication = await self.room.local_participant.publish_track(
            self.voice.track, rtc.TrackPublishOptions(source=MICROPHONE))
        self.speakers.agent_track_sid = str(publication.sid)
        self.notes.start()
        self.link.start()
        return CALLER_FORMAT

    async def receive(self) -> bytes:
        return await self._inbound.get()

    async def send(self, seq: int, sample_rate: int, pcm: bytes,
                   position: int | None = None) -> None:
        await self.voice.push(sample_rate, pcm)

    async def flush(self) -> None:
        self.voice.flush()

    def deliver(self, line: dict[str, Any]) -> None:
        self.notes.put(line)

    def counters(self) -> dict[str, int]:
        return {"frames_in": self.frames_in, "frames_dropped": self.frames_dropped,
                "tracks_read": self.tracks_read, "stream_failures": self.stream_failures,
                "reconnects": self.link.reconnects,
                "notes_published": self.notes.published, "notes_dropped": self.notes.dropped,
                **self.voice.counters()}

    async def close(self) -> None:
        self._closing = True
        self._stop_reading()
        await self.notes.aclose()
        with contextlib.suppress(Exception):
            await self.room.disconnect()
        await self.voice.aclose()

    # -- the link's news -----------------------------------------------------------
    def _linked(self, identity: str) -> None:
        self.speakers.user_identity = identity
        self._emit(ParticipantLinked(identity))

    def _read(self, track: Any, publication: Any) -> None:
        self._stop_reading()
        self.speakers.user_track_sid = str(publication.sid)
        self.tracks_read += 1
        self._reader = asyncio.get_running_loop().create_task(self._pump(track))

    def _stop_reading(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None

    async def _pump(self, track: Any) -> None:
        """The microphone's frames, as int16 bytes, into the inbound queue."""
        stream = rtc.AudioStream.from_track(track=track, sample_rate=CALLER_FORMAT.sample_rate,
                                            num_channels=CALLER_FORMAT.channels)
        try:
            async for event in stream:
                self._put(event.frame.data.tobytes())
        except Exception as exc:  # the SDK's stream broke: quiet until the track is renewed
            self.stream_failures += 1
            log.warning("microphone stream failed: %s: %s", type(exc).__name__, exc,
                        extra=session_extra(self.session))
        finally:
            await stream.aclose()

    def _put(self, pcm: bytes) -> None:
        if not self._ended:
            self._enqueue(pcm)
            self.frames_in += 1

    def _enqueue(self, pcm: bytes) -> None:
        if self._inbound.full():
            self._inbound.get_nowait()
            self.frames_dropped += 1
        self._inbound.put_nowait(pcm)

    def _end(self, reason: str) -> None:
        """The caller is gone: ``receive`` gives ``b""`` after what came before."""
        self._stop_reading()
        if self._ended:
            return
        self._ended = True
        self._enqueue(_END)
        if not self._closing:
            log.info("input ended: %s", reason, extra=session_extra(self.session))
            self._emit(ParticipantLeft(self.link.identity or "", reason))
