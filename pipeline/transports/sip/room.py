"""``SipRoom``: a call whose caller is on a phone line (a SIP INVITE).

The agent half of the SIP transport: ``voxpipe serve --sip`` builds one per admitted
INVITE; subscribing to the caller's microphone starts the pipeline session on the
call's ``SipTransport`` (where the caller's RTP goes, which G.711 law), and the edge
says where it listens in an ``RtpReady`` event, which the signalling answers with.
"""

from __future__ import annotations

from ipc.schema import SipTransport
from pipeline.transports.caller_room import SpecRoom


class SipRoom(SpecRoom[SipTransport]):
    """One phone call; the caller is its SIP From user ("caller" when none)."""

    @property
    def call_id(self) -> str:
        return self.spec.call_id
