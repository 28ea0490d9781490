"""The Janus transport: the agent is a plain-RTP participant of a Janus AudioBridge room.

The edge half (``connection.py`` with the HTTP API client ``api.py`` and the plugin's
requests ``audiobridge.py``) runs in the edge stage on aiohttp and the shared RTP
media (``pipeline.transports.rtp``); importing this package costs nothing until the
edge builds a connection. The agent half is ``room.py`` (``JanusRoom``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipc.schema import SessionConfig
from pipeline.transports.base import EmitEvent

if TYPE_CHECKING:
    from pipeline.transports.janus.connection import JanusConnection


def edge_connection(cfg: SessionConfig, emit: EmitEvent) -> JanusConnection:
    """The session's room connection (``pipeline.transports.registry`` finds it here)."""
    from pipeline.transports.janus.connection import JanusConnection

    return JanusConnection(cfg, emit)


__all__ = ["edge_connection"]
