"""``RtpConnection``: an ``EdgeConnection`` over one UDP socket of G.711 RTP.

``open`` binds ``local_host`` on a port the OS picks and asks the subclass where the
far end is (:meth:`RtpConnection.learn_remote`: SIP reads it from the offer's SDP
and announces the bound port, Janus asks its HTTP API); that address is where the
agent's audio goes until the caller's first packet latches the remote (symmetric
RTP). The caller's audio comes out of :meth:`receive` as 8 kHz mono int16
(``inbound``); the agent's, paced by playout, goes out as packets of ``ptime_ms``
(``packetizer``); key presses are emitted as ``DtmfReceived`` session events. The
call ends (``receive`` gives ``b""``) after ``media_timeout_s`` without RTP: a
caller that vanished sends no goodbye. The socket dies with the edge process, so
the connection is not reopenable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Final

from pipeline.logs import session_extra
from pipeline.transports.base import AudioFormat, EdgeConnectionDefaults, EmitEvent
from pipeline.transports.rtp.codec import SAMPLE_RATE, codec
from pipeline.transports.rtp.inbound import Received, RtpInbound
from pipeline.transports.rtp.jitter import DEFAULT_DEPTH
from pipeline.transports.rtp.latch import Address, SymmetricLatch
from pipeline.transports.rtp.packetizer import Packetizer

log = logging.getLogger("voxpipe.edge.rtp")

CALLER_FORMAT: Final = AudioFormat(SAMPLE_RATE, 1)
MEDIA_TIMEOUT_S: Final = 10.0
WATCH_INTERVAL_S: Final = 0.25
# playout sends a frame every 10-20 ms while the agent speaks: this long without one,
# the buffered remainder (under a packet) goes out rather than wait for the next.
PARTIAL_AFTER_S: Final = 0.1
_END: Final = b""


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, conn: RtpConnection) -> None:
        self.conn = conn

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.conn.on_datagram(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        # An ICMP port-unreachable from a far end that is not listening yet: not fatal.
        self.conn.socket_errors += 1


class RtpConnection(EdgeConnectionDefaults):
    """One call's RTP media; subclasses implement :meth:`learn_remote`."""

    reopenable = False

    def __init__(self, session: str, emit: EmitEvent, *, codec_name: str = "PCMU",
                 payload_type: int | None = None, dtmf_payload_type: int = 0,
                 local_host: str = "127.0.0.1", ptime_ms: int = 20,
                 media_timeout_s: float = MEDIA_TIMEOUT_S,
                 jitter_depth: int = DEFAULT_DEPTH) -> None:
        g711 = codec(codec_name)
        pt = g711.payload_type if payload_type is None else payload_type
        if not 0 <= pt <= 127 or not 0 <= dtmf_payload_type <= 127:
            raise ValueError(f"payload types must be 0..127, got {pt}, {dtmf_payload_type}")
        self.session = session
        self.emit = emit
        self.local_host = local_host
        self.media_timeout_s = media_timeout_s
        self.latch = SymmetricLatch()
        self.inbound = RtpInbound(g711, pt, dtmf_payload_type, self.latch, jitter_depth)
        self.outbound = Packetizer(g711, pt, ptime_ms)
        self.local_address: Address | None = None
        self.ended_reason = ""
        self.socket_errors = 0
        self.packets_unsent = 0  # agent audio with nowhere to go yet
        self._transport: asyncio.DatagramTransport | None = None
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._last_media = 0.0
        self._watch: asyncio.Task[None] | None = None
        self._partial_timer: asyncio.TimerHandle | None = None

    async def learn_remote(self, local: Address) -> Address | None:
        """Where the far end is (``None``: unknown until its first packet), once the
        socket is bound at ``local``; announce ``local`` to it if the protocol must."""
        raise NotImplementedError

    # -- EdgeConnection ----------------------------------------------------------
    async def open(self) -> AudioFormat:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Endpoint(self), local_addr=(self.local_host, 0))
        self._transport = transport
        host, port = transport.get_extra_info("sockname")[:2]
        self.local_address = (str(host), int(port))
        remote = await self.learn_remote(self.local_address)
        if not self.latch.latched:
            self.latch.remote = remote
        self._last_media = time.monotonic()
        self._watch = asyncio.create_task(self._watch_media())
        log.info("RTP at %s:%d, remote %s", host, port, remote,
                 extra=session_extra(self.session))
        return CALLER_FORMAT

    async def receive(self) -> bytes:
        return await self._queue.get()

    async def send(self, seq: int, sample_rate: int, pcm: bytes,
                   position: int | None = None) -> None:
        del position  # RTP timestamps follow playout's ticks (``seq``)
        for packet in self.outbound.push(seq, sample_rate, pcm):
            self._send(packet)
        if self._partial_timer is not None:
            self._partial_timer.cancel()
        self._partial_timer = asyncio.get_running_loop().call_later(
            PARTIAL_AFTER_S, self._send_partial)

    async def flush(self) -> None:
        self.outbound.flush()

    def counters(self) -> dict[str, int]:
        return {**self.inbound.counters(), "packets_out": self.outbound.packets,
                "packets_unsent": self.packets_unsent, "socket_errors": self.socket_errors,
                "samples_flushed": self.outbound.samples_dropped}

    async def close(self) -> None:
        self._end("closed by the session")
        if self._partial_timer is not None:
            self._partial_timer.cancel()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._transport is not None:
            self._transport.close()

    # -- the call's life ---------------------------------------------------------
    def on_datagram(self, data: bytes, source: Address) -> None:
        """One datagram from ``source`` (the socket's callback)."""
        if self.ended_reason:
            return
        packets = self.inbound.packets
        self._deliver(self.inbound.datagram(data, source))
        if self.inbound.packets != packets:
            self._last_media = time.monotonic()

    def _deliver(self, received: Received) -> None:
        for pcm in received.pcm:
            self._queue.put_nowait(pcm)
        for press in received.presses:
            log.info("key %s pressed (%d ms)", press.digit, press.duration_ms,
                     extra=session_extra(self.session))
            self.emit(press)

    def _send_partial(self) -> None:
        self._partial_timer = None
        for packet in self.outbound.send_partial():
            self._send(packet)

    def _send(self, packet: bytes) -> None:
        remote = self.latch.remote
        if self._transport is None or remote is None or self._transport.is_closing():
            self.packets_unsent += 1
            return
        self._transport.sendto(packet, remote)

    async def _watch_media(self) -> None:
        """Ends the call after ``media_timeout_s`` without RTP; after a shorter pause,
        releases what the jitter buffer holds behind a gap."""
        while not self.ended_reason:
            await asyncio.sleep(WATCH_INTERVAL_S)
            quiet = time.monotonic() - self._last_media
            if quiet > self.media_timeout_s:
                self._end(f"no RTP for {self.media_timeout_s:g} s")
            elif quiet > WATCH_INTERVAL_S and self.inbound.jitter.held:
                self._deliver(self.inbound.release())

    def _end(self, reason: str) -> None:
        """The caller is gone: what the jitter buffer held, then ``b""`` to ``receive``."""
        if self.ended_reason:
            return
        self.ended_reason = reason
        log.info("call media ended: %s", reason, extra=session_extra(self.session))
        self._deliver(self.inbound.end())
        self._queue.put_nowait(_END)
