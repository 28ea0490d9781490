"""``WebRoom``: a call whose caller is a browser (any WebRTC peer) on the line.

The agent half of the web transport: a ``pipeline.agents.room.Room`` whose one
caller publishes the microphone of the peer connection the edge stage answers.
``voxpipe serve`` builds one per ``POST /api/offer``; subscribing to the caller's
microphone starts the pipeline session on the call's ``WebTransport`` (the offer),
and the edge's answer comes back on the session's events (``WebAnswer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ipc.schema import WebTransport
from pipeline.transports.caller_room import SpecRoom

if TYPE_CHECKING:
    from pipeline.agents.room import Room


class WebRoom(SpecRoom[WebTransport]):
    """One browser call; its record goes to ``out_dir`` (named after the call's
    ``pc_id`` by the server, so the room's name is the peer connection's id)."""

    @property
    def pc_id(self) -> str:
        return self.spec.pc_id


def room_for_offer(pc_id: str, sdp: str, out_dir: Path | str, *, offer_type: str = "offer",
                   ice_servers: Sequence[str] = (), host_addresses: Sequence[str] = ()) -> Room:
    """The call of one SDP offer (callers outside this package know the room by its
    protocol only)."""
    spec = WebTransport(pc_id=pc_id, offer_sdp=sdp, offer_type=offer_type,
                        ice_servers=tuple(ice_servers), host_addresses=tuple(host_addresses))
    return WebRoom(spec, out_dir)
