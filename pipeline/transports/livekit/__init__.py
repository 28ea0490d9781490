"""The LiveKit transport: the agent joins a LiveKit room through the ``livekit`` rtc SDK.

The edge half (``connection.py`` with ``link.py``, ``voice.py``, ``notes.py``) runs in
the edge stage; importing this package costs nothing until the edge builds a
connection, so the supervisor-side half (``room.py``) does not load the SDK's
native library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipc.schema import SessionConfig
from pipeline.transports.base import EmitEvent

if TYPE_CHECKING:
    from pipeline.transports.livekit.connection import LiveKitConnection


def edge_connection(cfg: SessionConfig, emit: EmitEvent) -> LiveKitConnection:
    """The session's room connection (``pipeline.transports.registry`` finds it here)."""
    from pipeline.transports.livekit.connection import LiveKitConnection

    return LiveKitConnection(cfg, emit)


__all__ = ["edge_connection"]
