"""The Twilio transport: a Twilio-compatible media stream (``<Connect><Stream>``) calls
the agent over a websocket that ``voxpipe serve`` accepts at ``/twilio``.

The edge half (``connection.py`` and what it uses) runs in the edge stage, which owns
the websocket once serve has handed it the socket (``handoff.py``); importing this
package costs nothing until the edge builds a connection, so serve's side (the room,
the hand-off's offer) does not load the codec or the websocket protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipc.schema import SessionConfig
from pipeline.transports.base import EmitEvent

if TYPE_CHECKING:
    from pipeline.transports.twilio.connection import TwilioConnection


def edge_connection(cfg: SessionConfig, emit: EmitEvent) -> TwilioConnection:
    """The session's media stream (``pipeline.transports.registry`` finds it here)."""
    from pipeline.transports.twilio.connection import TwilioConnection

    return TwilioConnection(cfg, emit)


__all__ = ["edge_connection"]
