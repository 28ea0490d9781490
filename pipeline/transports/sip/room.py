"""``SipRoom``: a call whose caller is on a phone line (a SIP INVITE).

The agent half of the SIP transport: ``voxpipe serve --sip`` builds one per admitted
INVITE; subscribing to the caller's microphone starts the pipeline session on the
call's ``SipTransport`` (where the caller's RTP goes, which G.711 law), and the edge
says where it listens in an ``RtpReady`` event, which the signalling answers with.
"""

from __future__ import annotations

from pathlib import Path

from ipc.schema import SipTransport
from pipeline.transports.caller_room import CallerRoom


class SipRoom(CallerRoom):
    """One phone call; the caller is its SIP From user ("caller" when none)."""

    def __init__(self, spec: SipTransport, out_dir: Path | str, *,
                 caller_identity: str = "caller") -> None:
        super().__init__(out_dir, caller_identity=caller_identity)
        self.spec = spec

    @property
    def call_id(self) -> str:
        return self.spec.call_id

    def transport(self) -> SipTransport:
        """The caller's RTP address and the codec the answer names."""
        return self.spec
