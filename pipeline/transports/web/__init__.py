"""The WebRTC transport: a browser (or any WebRTC peer) calls the agent.

The edge half (``connection.py``, ``audio.py``) runs in the edge stage on aiortc;
importing this package costs nothing until the edge builds a connection, so the
supervisor-side half (the room) does not load aiortc.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipc.schema import SessionConfig
from pipeline.transports.base import EmitEvent

if TYPE_CHECKING:
    from pipeline.transports.web.connection import WebConnection


def edge_connection(cfg: SessionConfig, emit: EmitEvent) -> WebConnection:
    """The session's peer connection (``pipeline.transports.registry`` finds it here)."""
    from pipeline.transports.web.connection import WebConnection

    return WebConnection(cfg, emit)


__all__ = ["edge_connection"]
