"""The agent's notes, published in the room as livekit-agents publishes them.

The supervisor relays the agent's notes to the edge as lines of the session record
(``ipc.schema.record_line``). Here they become what a LiveKit client shows:
``participant_attributes`` (``lk.agent.state``) set on the agent's participant, and
``rtc.Transcription`` segments — the user's on the linked participant's microphone
track (one segment id per utterance, renewed after each final, as the seed's
``STTSegmentsForwarder`` does), the agent's on its ``assistant_voice`` track under
the segment id the agent gave them. One task publishes them in order; what the room
refuses is counted and dropped, never the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any, Final

import msgspec
from livekit import rtc

from ipc.schema import (
    AgentTranscription,
    ParticipantAttributes,
    SessionEvent,
    Transcription,
    UserTranscription,
)
from pipeline.logs import session_extra

log = logging.getLogger("voxpipe.edge.livekit")

MAX_PENDING: Final = 256
#: The notes a room shows; the others (every event of the record) are not for it.
Note = ParticipantAttributes | UserTranscription | AgentTranscription | Transcription


class Speakers:
    """Who the transcriptions are of: filled in by the connection as it learns it."""

    def __init__(self) -> None:
        self.user_identity = ""
        self.user_track_sid = ""
        self.agent_track_sid = ""


class NotePublisher:
    """Publishes the notes of one session on ``room``'s local participant."""

    def __init__(self, room: Any, speakers: Speakers, session: str) -> None:
        self.room = room
        self._extra = session_extra(session)
        self.speakers = speakers
        self.published = 0
        self.dropped = 0
        self._pending: asyncio.Queue[Note] = asyncio.Queue(MAX_PENDING)
        self._user_segment = self._new_segment()
        self._task: asyncio.Task[None] | None = None

    def put(self, line: dict[str, Any]) -> None:
        """Queue one record line; kinds the room has no use for are ignored."""
        try:
            event = msgspec.convert(line, SessionEvent)
        except msgspec.ValidationError:
            self._drop("not a session event")
            return
        if not isinstance(event, Note):
            return
        if self._pending.full():
            self._pending.get_nowait()
            self.dropped += 1
        self._pending.put_nowait(event)

    def start(self) -> None:
        """The room is connected: publish what waited and what comes."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            note = await self._pending.get()
            try:
                await self._publish_note(note)
                self.published += 1
            except Exception as exc:  # a room going away, or no track to publish on yet
                self._drop(f"{type(exc).__name__}: {exc}")

    def _drop(self, why: str) -> None:
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 100 == 0:  # a log line, not a flood
            log.warning("note not published (%d so far): %s", self.dropped, why,
                        extra=self._extra)

    async def _publish_note(self, note: Note) -> None:
        local = self.room.local_participant
        match note:
            case ParticipantAttributes():
                await local.set_attributes(dict(note.attributes))
            case UserTranscription():
                segment = self._user_segment
                if note.final:
                    self._user_segment = self._new_segment()
                await self._publish(self.speakers.user_identity, self.speakers.user_track_sid,
                                    segment, note.text, note.final)
            case AgentTranscription():
                await self._publish(local.identity, self.speakers.agent_track_sid,
                                    note.segment_id, note.text, note.final)
            case Transcription():
                agent = note.participant == local.identity
                track = self.speakers.agent_track_sid if agent else self.speakers.user_track_sid
                await self._publish(note.participant, track, note.segment_id, note.text,
                                    note.final)

    async def _publish(self, identity: str, track_sid: str, segment_id: str, text: str,
                       final: bool) -> None:
        if not identity or not track_sid:
            raise LookupError("no track to publish the transcription on yet")
        segment = rtc.TranscriptionSegment(id=segment_id, text=text, start_time=0, end_time=0,
                                           language="", final=final)
        await self.room.local_participant.publish_transcription(
            rtc.Transcription(participant_identity=identity, track_sid=track_sid,
                              segments=[segment]))

    @staticmethod
    def _new_segment() -> str:
        return f"SG_{uuid.uuid4().hex[:12]}"
