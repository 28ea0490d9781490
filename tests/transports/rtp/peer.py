"""A test RTP peer: the far end of a call's media (a phone, a PBX) on 127.0.0.1.

It sends G.711 audio as 20 ms packets (paced in real time by :meth:`RtpPeer.play`, on
a thread of its own: a phone's clock does not wait for the test's event loop),
RFC 4733 key presses as a phone sends them (repeated starts, three end packets), and
records every packet it receives, with its source, so a test can rebuild what the
phone would have played (packets placed by RTP timestamp).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.transports.rtp.codec import codec
from pipeline.transports.rtp.packet import RtpPacket, build_rtp, parse_rtp

PACKET_SAMPLES = 160
PACKET_S = 0.02


class RtpPeer(asyncio.DatagramProtocol):
    def __init__(self, codec_name: str = "PCMU", dtmf_payload_type: int = 101,
                 ssrc: int = 0x5EED) -> None:
        self.codec = codec(codec_name)
        self.dtmf_payload_type = dtmf_payload_type
        self.ssrc = ssrc
        self.seq = 1000
        self.timestamp = 80000
        self.remote: tuple[str, int] | None = None
        self.received: list[RtpPacket] = []
        self.sources: set[tuple[str, int]] = set()
        self.malformed = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> tuple[str, int]:
        """Bind 127.0.0.1 (the socket both ways: symmetric RTP); its address."""
        self._sock.bind(("127.0.0.1", 0))
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: self, sock=self._sock)
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        else:
            self._sock.close()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.sources.add((str(addr[0]), int(addr[1])))
        try:
            self.received.append(parse_rtp(data))
        except ValueError:
            self.malformed += 1

    def send_raw(self, data: bytes) -> None:
        """Any datagram (a crafted packet, garbage) to the remote."""
        assert self.remote is not None
        self._sock.sendto(data, self.remote)

    def send_packet(self, payload_type: int, payload: bytes, marker: bool = False,
                    timestamp: int | None = None) -> None:
        assert self.remote is not None
        ts = self.timestamp if timestamp is None else timestamp
        # Straight on the socket (thread-safe, unlike the transport's sendto).
        self._sock.sendto(build_rtp(payload_type, self.seq, ts, self.ssrc, payload, marker),
                          self.remote)
        self.seq = (self.seq + 1) & 0xFFFF

    def send_audio(self, pcm: bytes) -> None:
        """One packet of 8 kHz int16 ``pcm`` (160 samples)."""
        self.send_packet(self.codec.payload_type, self.codec.encode(pcm))
        self.timestamp += len(pcm) // 2

    async def play(self, pcm: bytes) -> None:
        """``pcm`` (8 kHz int16) as 20 ms packets, paced in real time on a thread."""
        await asyncio.to_thread(self._play, pcm)

    def _play(self, pcm: bytes) -> None:
        start = time.monotonic()
        size = 2 * PACKET_SAMPLES
        for k in range(0, len(pcm) // size):
            self.send_audio(pcm[k * size : (k + 1) * size])
            time.sleep(max(0.0, start + (k + 1) * PACKET_S - time.monotonic()))

    def press(self, code: int, duration_ms: int = 100) -> None:
        """A key press in the place of ``duration_ms`` of audio, sent all at once."""
        ts, samples = self.timestamp, duration_ms * 8
        for k, duration in enumerate(range(PACKET_SAMPLES, samples, PACKET_SAMPLES)):
            self.send_packet(self.dtmf_payload_type, struct.pack("!BBH", code, 10, duration),
                             k == 0, ts)
        for _ in range(3):
            self.send_packet(self.dtmf_payload_type, struct.pack("!BBH", code, 0x8A, samples),
                             False, ts)
        self.timestamp += samples

    def received_audio(self, tail_s: float = 1.0) -> npt.NDArray[np.int16]:
        """What a phone would play: each audio packet decoded at its timestamp's place,
        then ``tail_s`` of the silence that follows the last one."""
        audio = [p for p in self.received if p.payload_type == self.codec.payload_type]
        if not audio:
            return np.zeros(0, np.int16)
        first = audio[0].timestamp
        offsets = [(p.timestamp - first) & 0xFFFFFFFF for p in audio]
        out = np.zeros(max(offsets) + PACKET_SAMPLES + int(tail_s * 8000), np.int16)
        for offset, p in zip(offsets, audio, strict=True):
            pcm = np.frombuffer(self.codec.decode(p.payload), "<i2")
            out[offset : offset + len(pcm)] = pcm
        return out
