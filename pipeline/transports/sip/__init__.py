"""The SIP transport: a phone call answered by ``voxpipe serve --sip``.

The signalling (the user agent server, SDP offer/answer, dialogs) runs in the serve
process; the edge half (``connection.py``) is the call's RTP media, on the shared
``pipeline.transports.rtp``. Importing this package costs nothing until the edge
builds a connection, so the serve-side half does not load the media code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipc.schema import SessionConfig
from pipeline.transports.base import EmitEvent

if TYPE_CHECKING:
    from pipeline.transports.sip.connection import SipConnection


def edge_connection(cfg: SessionConfig, emit: EmitEvent) -> SipConnection:
    """The call's RTP media (``pipeline.transports.registry`` finds it here)."""
    from pipeline.transports.sip.connection import SipConnection

    return SipConnection(cfg, emit)


__all__ = ["edge_connection"]
