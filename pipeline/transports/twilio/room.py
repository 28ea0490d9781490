"""``TwilioRoom``: a call whose caller is a media stream (Twilio's ``<Connect><Stream>``).

The agent half of the Twilio transport: a ``pipeline.agents.room.Room`` whose one
caller is the stream ``voxpipe serve`` accepted at ``/twilio``; subscribing to the
caller's microphone starts the pipeline session on the call's ``TwilioTransport``,
whose ``stream_id`` (``tw-<hex>``) is the session's id and whose ``handoff_path`` is
where serve offers the edge the call's socket.
"""

from __future__ import annotations

from ipc.schema import TwilioTransport
from pipeline.transports.caller_room import SpecRoom


class TwilioRoom(SpecRoom[TwilioTransport]):
    """One media stream call; its record goes to ``out_dir``."""

    @property
    def stream_id(self) -> str:
        return self.spec.stream_id
