"""A plain-RTP test participant of an AudioBridge room: joins through Janus's HTTP API
(the client under test, ``pipeline.transports.janus``, talking to the real Janus),
speaks a WAV as PCMU RTP at a 20 ms pace and records the room's mix it is sent.

Its RTP is its own (a header of a few lines) and its G.711 the numpy reference
(``tests/reference/g711_ref.py``), independent of the runtime's
``pipeline.transports.rtp`` and ``native.g711`` it talks to: a peer that shares the
code under test proves nothing about it.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct
import time
from typing import Any, Final

import aiohttp
import numpy as np
import numpy.typing as npt

from pipeline.transports.janus.api import JanusSession
from pipeline.transports.janus.audiobridge import AudioBridge, RtpJoin
from tests.reference.g711_ref import ulaw_decode, ulaw_encode

AGENT: Final = "voxpipe"  # JanusTransport's default display name
JOIN_TIMEOUT_S: Final = 60.0
RATE: Final = 8000
PTIME_S: Final = 0.02
SAMPLES: Final = int(RATE * PTIME_S)
HEADER: Final = struct.Struct("!BBHII")

F64 = npt.NDArray[np.float64]
I16 = npt.NDArray[np.int16]


class _Mix(asyncio.DatagramProtocol):
    """The mix Janus sends: PCMU payloads placed by RTP timestamp."""

    def __init__(self) -> None:
        self.packets: dict[int, bytes] = {}
        self.sources: set[tuple[str, int]] = set()
        self.first_ts: int | None = None
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) < HEADER.size or data[0] >> 6 != 2 or data[1] & 0x7F != 0:
            return
        _, _, _, ts, _ = HEADER.unpack_from(data)
        self.sources.add((str(addr[0]), int(addr[1])))
        if self.first_ts is None:
            self.first_ts = ts
        self.packets[(ts - self.first_ts) & 0xFFFFFFFF] = data[HEADER.size:]


class RtpParticipant:
    """One plain-RTP participant (``display``) of ``room`` on the Janus at ``url``."""

    def __init__(self, url: str, room: int, display: str) -> None:
        self.url, self.room, self.display = url, room, display
        self.mix = _Mix()
        self.sent_packets = 0
        self.max_send_lag_s = 0.0  # how far behind its pace the sender fell (load)
        self.join: RtpJoin | None = None
        self._http: aiohttp.ClientSession | None = None
        self._session: JanusSession | None = None
        self._bridge: AudioBridge | None = None
        self._ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    async def __aenter__(self) -> RtpParticipant:
        self._http = aiohttp.ClientSession()
        self._session = JanusSession(self.url, self._http)
        await self._session.open()
        self._bridge = await AudioBridge.attach(self._session)
        loop = asyncio.get_running_loop()
        self._sock.bind(("127.0.0.1", 0))
        await loop.create_datagram_endpoint(lambda: self.mix, sock=self._sock)
        port = self._sock.getsockname()[1]
        self.join = await self._bridge.join_rtp(self.room, "127.0.0.1", port,
                                                display=self.display)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._bridge is not None:
            await self._bridge.leave()
            await self._bridge.handle.detach()
        if self._session is not None:
            await self._session.destroy()
        if self.mix.transport is not None:
            self.mix.transport.close()
        if self._http is not None:
            await self._http.close()

    async def speak(self, pcm: I16) -> None:
        """``pcm`` (8 kHz mono) as 20 ms PCMU packets sent in real time, from a thread
        of its own (the event loop, busy receiving, must not delay the pace)."""
        assert self.join is not None
        payloads = [ulaw_encode(pcm[i:i + SAMPLES].tobytes())
                    for i in range(0, len(pcm) - SAMPLES + 1, SAMPLES)]
        await asyncio.to_thread(self._send_paced, payloads, (self.join.host, self.join.port))

    def _send_paced(self, payloads: list[bytes], to: tuple[str, int]) -> None:
        due = time.monotonic()
        for payload in payloads:
            header = HEADER.pack(0x80, 0, self._seq, self._ts, self._ssrc)
            self._sock.sendto(header + payload, to)
            self.sent_packets += 1
            self._seq = (self._seq + 1) & 0xFFFF
            self._ts = (self._ts + SAMPLES) & 0xFFFFFFFF
            due += PTIME_S
            lag = time.monotonic() - due
            self.max_send_lag_s = max(self.max_send_lag_s, lag)
            time.sleep(max(0.0, -lag))

    async def silence(self, seconds: float) -> None:
        """Send silence (a participant's line stays open) for ``seconds``."""
        await self.speak(np.zeros(int(seconds * RATE), dtype=np.int16))

    async def bridge_request(self, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous AudioBridge request on this participant's handle (e.g. ``kick``,
        ``destroy``): its answer."""
        assert self._bridge is not None
        return await self._bridge.handle.request(body)

    async def participants(self) -> list[dict[str, Any]]:
        """The room's participants as Janus lists them (``listparticipants``)."""
        data = await self.bridge_request({"request": "listparticipants", "room": self.room})
        return list(data.get("participants", []))

    def heard(self) -> F64:
        """The mix received so far, at 8 kHz, in [-1, 1] (gaps: silence)."""
        if not self.mix.packets:
            return np.zeros(0)
        end = max(self.mix.packets) + SAMPLES
        out = np.zeros(end, dtype=np.float64)
        for at, payload in self.mix.packets.items():
            if at + len(payload) <= end:
                out[at:at + len(payload)] = np.frombuffer(ulaw_decode(payload), "<i2") / 32768.0
        return out


async def create_room(url: str, room: int) -> None:
    """Create AudioBridge ``room`` (plain-RTP participants allowed) on the Janus at ``url``."""
    async with aiohttp.ClientSession() as http:
        session = JanusSession(url, http)
        await session.open()
        try:
            await (await AudioBridge.attach(session)).create_room(room)
        finally:
            await session.destroy()
