"""``LiveKitRoom``: a call in a LiveKit room, as the agent API sees it.

The agent half of the LiveKit transport. The room itself is joined by the edge
stage once the agent starts the call's session (``transport()`` is the URL and
token), so until then the room shows one participant standing in for the caller
the edge will link: named ``participant_identity`` when one was given. Subscribing
to its microphone starts the session as with any caller room; the edge then
reports whom it linked (``ParticipantLinked``: the stand-in takes that identity)
and when that participant left (``ParticipantLeft``: ``participant_disconnected``;
the session's input has ended and it closes as any call does).

lk-worker builds one per job from the assignment (URL and participant token); the
session record goes to ``out_dir``, a fresh temporary directory when none is given
(``temporary_out_dir`` tells the caller it may remove it after the call).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ipc.schema import LiveKitTransport, ParticipantLeft, ParticipantLinked, StageEvent
from pipeline.transports.caller_room import CallerRoom

if TYPE_CHECKING:
    from pipeline.supervisor.runtime import Runtime

#: The stand-in's identity until the edge links someone (no identity was asked for).
PENDING_IDENTITY: Final = "livekit-participant"


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a LiveKit access token (a JWT), read without verifying it (the
    server does that): ``{}`` for anything that is not a readable JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def token_room(token: str) -> str:
    """The room a LiveKit token grants (``video.room``), or ``""``."""
    video = token_claims(token).get("video")
    room = video.get("room") if isinstance(video, dict) else None
    return room if isinstance(room, str) else ""


class LiveKitRoom(CallerRoom):
    """One LiveKit room the agent joins at ``url`` with ``token``; the edge links
    ``participant_identity``, else the first remote participant, else the next to join."""

    def __init__(self, url: str, token: str, *, participant_identity: str | None = None,
                 out_dir: Path | str | None = None) -> None:
        if not url or not token:
            raise ValueError("LiveKitRoom needs a url and a token")
        room = token_room(token)
        self.temporary_out_dir = out_dir is None
        if out_dir is None:
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", room)[:40]
            out_dir = tempfile.mkdtemp(prefix=f"voxpipe-livekit-{safe}-" if safe
                                       else "voxpipe-livekit-")
        super().__init__(out_dir, caller_identity=participant_identity or PENDING_IDENTITY)
        self.name = room or self.out_dir.name
        self.url = url
        self.participant_identity = participant_identity
        self.spec = LiveKitTransport(url=url, token=token,
                                     participant_identity=participant_identity, room=room)

    @classmethod
    def with_credentials(cls, room: str, *, url: str | None = None,
                         api_key: str | None = None, api_secret: str | None = None,
                         identity: str = "voxpipe-agent",
                         participant_identity: str | None = None,
                         out_dir: Path | str | None = None) -> LiveKitRoom:
        """A room joined with a token minted here (``livekit-api``) from the API key and
        secret, as livekit users configure them: ``LIVEKIT_URL``, ``LIVEKIT_API_KEY`` and
        ``LIVEKIT_API_SECRET`` when not given. A missing one is a one-line ValueError."""
        from livekit.api import AccessToken, VideoGrants

        url = url or os.environ.get("LIVEKIT_URL", "")
        api_key = api_key or os.environ.get("LIVEKIT_API_KEY", "")
        api_secret = api_secret or os.environ.get("LIVEKIT_API_SECRET", "")
        missing = [name for name, value in (("LIVEKIT_URL", url), ("LIVEKIT_API_KEY", api_key),
                                            ("LIVEKIT_API_SECRET", api_secret)) if not value]
        if missing:
            raise ValueError(f"cannot join LiveKit room {room!r}: {', '.join(missing)} "
                             "not set (nor given)")
        grants = VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True,
                             can_publish_data=True, can_update_own_metadata=True)
        token = (AccessToken(api_key, api_secret).with_identity(identity)
                 .with_name(identity).with_grants(grants).to_jwt())
        return cls(url, token, participant_identity=participant_identity, out_dir=out_dir)

    def transport(self) -> LiveKitTransport:
        """The room's URL and token, and whom to link: the edge joins with them."""
        return self.spec

    def bind_session(self, runtime: Runtime, session_id: str) -> None:
        session = runtime.sessions.get(session_id)
        if session is not None:
            session.on(self._on_session_event)
        super().bind_session(runtime, session_id)

    def _on_session_event(self, ev: StageEvent) -> None:
        event = ev.event
        if isinstance(event, ParticipantLinked):
            self._caller_is(event.identity)
        elif isinstance(event, ParticipantLeft):
            participant = self.remote_participants.pop(event.identity, None)
            if participant is not None:
                self.emit("participant_disconnected", participant)

    def _caller_is(self, identity: str) -> None:
        """The edge linked ``identity``: the stand-in (the agent's linked participant)
        takes its name."""
        if identity in self.remote_participants:
            return
        stand_in = self.remote_participants.pop(self.caller_identity, None)
        if stand_in is None:
            return
        stand_in.identity = self.caller_identity = identity
        self.remote_participants[identity] = stand_in
