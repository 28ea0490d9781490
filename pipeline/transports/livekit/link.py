"""Which participant of a LiveKit room a session hears, and its microphone.

Linking as the seed's ``MultimodalAgent`` means it (with voxpipe's fix of its
``participant_connected`` test, which linked only when a participant already
was): the participant with the given identity, else the first remote participant
in the room, else the next to join. Its microphone is subscribed (the room joins
with ``auto_subscribe`` off, so nothing else is); every subscription of it — the
first, a republished track, a track renewed by a room reconnect — hands the track
over, and an unpublished one is taken back. The linked participant leaving, or the
room disconnecting, ends the link for good.

The room is anything with ``livekit.rtc.Room``'s events, ``remote_participants``
and participants' ``track_publications`` (tests drive it with a duck-typed room).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from livekit import rtc

from pipeline.logs import session_extra

log = logging.getLogger("voxpipe.edge.livekit")

MICROPHONE: Final = rtc.TrackSource.SOURCE_MICROPHONE


class ParticipantLink:
    """Follows ``room``'s events for the session's participant; tells the connection
    through ``on_linked(identity)``, ``on_track(track, publication)``,
    ``on_track_gone()`` and ``on_end(reason)``."""

    def __init__(self, room: Any, identity: str | None, *, session: str,
                 on_linked: Callable[[str], None],
                 on_track: Callable[[Any, Any], None],
                 on_track_gone: Callable[[], None],
                 on_end: Callable[[str], None]) -> None:
        self.room = room
        self.wanted = identity
        self.participant: Any = None
        self.publication: Any = None
        self.track: Any = None
        self.ended = ""
        self.reconnects = 0
        self._extra = session_extra(session)
        self._on_linked = on_linked
        self._on_track = on_track
        self._on_track_gone = on_track_gone
        self._on_end = on_end
        handlers: dict[str, Callable[..., None]] = {
            "participant_connected": self._participant_connected,
            "participant_disconnected": self._participant_disconnected,
            "track_published": self._track_published,
            "track_subscribed": self._track_subscribed,
            "track_unpublished": self._track_removed,
            "track_unsubscribed": self._track_unsubscribed,
            "reconnecting": self._reconnecting,
            "reconnected": self._reconnected,
            "disconnected": self._disconnected,
        }
        for event, handler in handlers.items():
            room.on(event, handler)

    @property
    def identity(self) -> str | None:
        return None if self.participant is None else str(self.participant.identity)

    def start(self) -> None:
        """The room is connected: link a participant already in it, if one fits."""
        participants = self.room.remote_participants
        if self.wanted is not None:
            if self.wanted in participants:
                self._link(participants[self.wanted])
        else:
            for participant in participants.values():
                self._link(participant)
                break
        if self.participant is None:
            who = f"participant {self.wanted!r}" if self.wanted else "a participant"
            log.info("waiting for %s to join", who, extra=self._extra)

    # -- room events -------------------------------------------------------------
    def _participant_connected(self, participant: Any) -> None:
        if self.participant is None and not self.ended and \
                self.wanted in (None, participant.identity):
            self._link(participant)

    def _participant_disconnected(self, participant: Any) -> None:
        if self._is_linked(participant):
            self.end(f"participant {participant.identity!r} left")

    def _track_published(self, publication: Any, participant: Any) -> None:
        if self._is_linked(participant):
            self._subscribe(publication)

    def _track_subscribed(self, track: Any, publication: Any, participant: Any) -> None:
        if self._is_linked(participant) and publication.source == MICROPHONE:
            self._take(track, publication)

    def _track_removed(self, publication: Any, participant: Any) -> None:
        if self._is_linked(participant) and self.publication is not None and \
                publication.sid == self.publication.sid:
            log.info("microphone %s unpublished: waiting for it again", publication.sid,
                     extra=self._extra)
            self.publication = self.track = None
            self._on_track_gone()

    def _track_unsubscribed(self, track: Any, publication: Any, participant: Any) -> None:
        self._track_removed(publication, participant)

    def _reconnecting(self) -> None:
        self.reconnects += 1
        log.warning("room connection lost: reconnecting", extra=self._extra)

    def _reconnected(self) -> None:
        log.info("room reconnected", extra=self._extra)
        if self.participant is None:
            return
        current = self.room.remote_participants.get(self.participant.identity)
        if current is None:
            self.end(f"participant {self.participant.identity!r} gone after a reconnect")
            return
        self.participant = current
        self._subscribe_all()

    def _disconnected(self, reason: Any = None) -> None:
        self.end(f"room disconnected ({reason})" if reason is not None else "room disconnected")

    # -- linking -----------------------------------------------------------------
    def end(self, reason: str) -> None:
        if self.ended:
            return
        self.ended = reason
        log.info("link ended: %s", reason, extra=self._extra)
        self._on_end(reason)

    def _is_linked(self, participant: Any) -> bool:
        return self.participant is not None and not self.ended and \
            participant.identity == self.participant.identity

    def _link(self, participant: Any) -> None:
        self.participant = participant
        log.info("linked participant %r", participant.identity, extra=self._extra)
        self._on_linked(str(participant.identity))
        self._subscribe_all()

    def _subscribe_all(self) -> None:
        for publication in list(self.participant.track_publications.values()):
            self._subscribe(publication)

    def _subscribe(self, publication: Any) -> None:
        if publication.source != MICROPHONE:
            return
        if not publication.subscribed:
            publication.set_subscribed(True)
        if publication.track is not None:
            self._take(publication.track, publication)

    def _take(self, track: Any, publication: Any) -> None:
        """Read ``track``: the first microphone, or a renewed track of the same one."""
        if track is self.track or (self.publication is not None
                                   and self.publication.sid != publication.sid):
            return
        self.publication, self.track = publication, track
        self._on_track(track, publication)
