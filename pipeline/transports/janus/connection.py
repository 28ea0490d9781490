"""The Janus transport's edge half: the agent's RTP, addressed by an AudioBridge join.

An ``RtpConnection`` (G.711 mu-law, 20 ms, jitter buffer, symmetric latching) whose
far end is learned from Janus: once the RTP socket is bound, the room is joined as
a plain-RTP participant with the mix sent to that socket (``membership.py``), and
the ``joined`` answer names Janus's RTP address, where the agent's voice goes.
Janus sends a plain-RTP participant the mix only once it has had a packet from it
(Janus 1.1.2: a participant that never sent hears nothing), so ``open`` sends a few
packets of silence at once, the first of the agent's stream (one lost on the way
would leave the agent deaf until it spoke, which it does not do unasked). The mix leaves the
agent's own voice out, so the agent never hears itself. The session's input ends
when the membership does (the room destroyed, the agent kicked, Janus gone) or
after ``media_timeout_s`` without RTP (Janus sends the mix, silence included, every
20 ms). ``close`` leaves the room, detaches and destroys the Janus session before
the socket closes.
"""

from __future__ import annotations

from typing import Final

from ipc.schema import JanusTransport, SessionConfig
from pipeline.transports.base import AudioFormat, EmitEvent
from pipeline.transports.janus.membership import RoomMembership
from pipeline.transports.rtp.codec import SAMPLE_RATE
from pipeline.transports.rtp.connection import RtpConnection
from pipeline.transports.rtp.latch import Address

PRIMING_PACKETS: Final = 3


class JanusConnection(RtpConnection):
    """The agent's seat in one AudioBridge room (an ``EdgeConnection``)."""

    #: Creating a session, attaching and joining are three round trips to Janus (the
    #: join's answer comes by long poll).
    open_timeout_s = 15.0

    def __init__(self, cfg: SessionConfig, emit: EmitEvent) -> None:
        if not isinstance(cfg.transport, JanusTransport):
            raise TypeError(f"not a janus transport: {cfg.transport!r}")
        self.spec = cfg.transport
        super().__init__(cfg.session, emit, codec_name="PCMU",
                         local_host=self.spec.local_host)
        self.membership = RoomMembership(self.spec, cfg.session, self._end)

    async def open(self) -> AudioFormat:
        fmt = await super().open()
        # Ticks just before playout's first, so the stream's timestamps keep real time.
        silence = bytes(2 * self.outbound.packet_samples)
        for tick in range(-PRIMING_PACKETS, 0):
            await self.send(tick, SAMPLE_RATE, silence)
        return fmt

    async def learn_remote(self, local: Address) -> Address | None:
        joined = await self.membership.join(local[0], local[1])
        return (joined.host, joined.port)

    async def close(self) -> None:
        try:
            await self.membership.leave()
        finally:  # a Janus too slow to hang up must not keep the socket open
            await super().close()

    def counters(self) -> dict[str, int]:
        return {**super().counters(), **self.membership.counters()}
