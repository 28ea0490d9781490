"""The SIP transport's edge half: the call's RTP, addressed from the SDP offer.

The signalling put the offer's media address (``remote_host:remote_port``), codec
and payload types in the ``SipTransport`` spec. ``open`` binds the RTP socket and
emits ``RtpReady`` with its address, which the signalling puts in its SDP answer;
until the caller's first packet latches it, the agent's audio goes to the offer's
address. A remote port of 0 (an offer on hold) means: send nothing until latched.
"""

from __future__ import annotations

from ipc.schema import RtpReady, SessionConfig, SipTransport
from pipeline.transports.base import EmitEvent
from pipeline.transports.rtp.connection import RtpConnection
from pipeline.transports.rtp.latch import Address


class SipConnection(RtpConnection):
    """One SIP call's media (an ``EdgeConnection``)."""

    def __init__(self, cfg: SessionConfig, emit: EmitEvent) -> None:
        if not isinstance(cfg.transport, SipTransport):
            raise TypeError(f"not a SIP transport: {cfg.transport!r}")
        self.spec = cfg.transport
        super().__init__(cfg.session, emit, codec_name=self.spec.codec,
                         payload_type=self.spec.payload_type,
                         dtmf_payload_type=self.spec.dtmf_payload_type,
                         local_host=self.spec.local_host, ptime_ms=self.spec.ptime_ms,
                         media_timeout_s=self.spec.media_timeout_s)

    async def learn_remote(self, local: Address) -> Address | None:
        self.emit(RtpReady(self.spec.call_id, local[0], local[1]))
        if self.spec.remote_port == 0:
            return None
        return (self.spec.remote_host, self.spec.remote_port)
