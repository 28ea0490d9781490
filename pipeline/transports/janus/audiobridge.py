"""The AudioBridge plugin's requests for a plain-RTP participant (Janus 1.1).

A participant joins with an ``rtp`` object instead of a WebRTC offer: where Janus
sends it the room's mix (``ip``, ``port``) and the payload type; ``codec`` picks
G.711 (``pcmu``: payload type 0, ``pcma``: 8). The ``joined`` answer carries Janus's
own ``rtp`` address, where the participant sends its voice. The room must allow
plain-RTP participants (``allow_rtp_participants``); the mix each participant gets
leaves its own voice out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pipeline.transports.janus.api import JanusError, JanusHandle, JanusSession

PLUGIN: Final = "janus.plugin.audiobridge"
PAYLOAD_TYPES: Final = {"pcmu": 0, "pcma": 8}
# A ``leave`` of a room that is gone (destroyed, or we were kicked): already left.
NOT_JOINED: Final = 487


@dataclass(frozen=True)
class RtpJoin:
    """What a plain-RTP join gave: our participant id and Janus's RTP address."""

    participant_id: int
    host: str
    port: int
    payload_type: int


class AudioBridge:
    """One handle on the AudioBridge plugin: at most one participant at a time."""

    def __init__(self, handle: JanusHandle) -> None:
        self.handle = handle
        self.room: int | None = None
        self.participant_id: int | None = None

    @classmethod
    async def attach(cls, session: JanusSession) -> AudioBridge:
        return cls(await session.attach(PLUGIN))

    async def create_room(self, room: int, *, sampling_rate: int = 16000,
                          **options: Any) -> None:
        """Create ``room`` (allowing plain-RTP participants) on this Janus."""
        await self.handle.request({"request": "create", "room": room,
                                   "sampling_rate": sampling_rate,
                                   "allow_rtp_participants": True, **options})

    async def join_rtp(self, room: int, host: str, port: int, *, display: str = "",
                       pin: str = "", codec: str = "pcmu") -> RtpJoin:
        """Join ``room`` as a plain-RTP participant receiving the mix at ``host:port``."""
        payload_type = PAYLOAD_TYPES[codec]
        body: dict[str, Any] = {"request": "join", "room": room, "codec": codec,
                                "rtp": {"ip": host, "port": port,
                                        "payload_type": payload_type}}
        if display:
            body["display"] = display
        if pin:
            body["pin"] = pin
        data = await self.handle.message(body)
        rtp = data.get("rtp")
        if data.get("audiobridge") != "joined" or not isinstance(rtp, dict):
            raise JanusError("join", 0, f"no rtp address in the answer: {data!r:.200}")
        self.room, self.participant_id = room, int(data.get("id", 0))
        return RtpJoin(self.participant_id, str(rtp.get("ip", "")), int(rtp.get("port", 0)),
                       int(rtp.get("payload_type", payload_type)))

    async def leave(self) -> None:
        """Leave the room joined (nothing when none)."""
        if self.room is not None and not self.handle.gone:
            self.room = None
            try:
                await self.handle.message({"request": "leave"})
            except JanusError as exc:
                if exc.code != NOT_JOINED:
                    raise

    def removed_by(self, data: dict[str, Any]) -> str | None:
        """Why an AudioBridge event removed us from the room (the room was destroyed,
        or we were kicked: there is nothing to leave any more), or None."""
        if self.room is None:
            return None
        reason = None
        if data.get("audiobridge") == "destroyed" and data.get("room") == self.room:
            reason = "the room was destroyed"
        elif self.participant_id is not None and data.get("kicked") == self.participant_id:
            reason = "kicked from the room"
        if reason is not None:
            self.room = None
        return reason
