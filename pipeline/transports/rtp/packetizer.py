"""The agent's audio as RTP: resampled to 8 kHz, G.711, whole packets of ``ptime``.

playout hands over paced frames (24 kHz mono by default, 10 or 20 ms each): they are
resampled with one stateful resampler (no seams between frames), buffered, and cut
into packets of ``ptime_ms`` (160 samples at 20 ms). The RTP timestamp counts 8 kHz
samples and keeps counting through the agent's silences (each talkspurt starts at
its first tick's place on playout's clock), so the caller's jitter buffer sees real time;
the first packet of each talkspurt (after a silence or a barge-in flush) carries the
marker bit, and a talkspurt's last partial packet goes out padded with silence (the
padding does not advance the timestamp: the stream stays on playout's clock).
"""

from __future__ import annotations

import random

from pipeline.transports.narrowband import Narrowband
from pipeline.transports.rtp.codec import G711, SAMPLE_RATE
from pipeline.transports.rtp.packet import build_rtp


class Packetizer:
    """One outbound RTP stream: playout's frames in, datagrams out."""

    def __init__(self, codec: G711, payload_type: int, ptime_ms: int = 20,
                 ssrc: int | None = None) -> None:
        if not 10 <= ptime_ms <= 60 or ptime_ms % 10:
            raise ValueError(f"ptime must be 10, 20, ... 60 ms, got {ptime_ms}")
        self.codec = codec
        self.payload_type = payload_type
        self.packet_samples = SAMPLE_RATE * ptime_ms // 1000
        # RFC 3550: random SSRC and random starting sequence number and timestamp.
        self.ssrc = random.getrandbits(32) if ssrc is None else ssrc
        self.seq = random.getrandbits(16)
        self.timestamp = random.getrandbits(32)
        self.packets = 0
        self.samples_dropped = 0  # buffered agent audio a flush threw away
        self._pcm = bytearray()  # 8 kHz int16 not yet sent
        self._narrowband = Narrowband()
        self._last_tick = 0
        self._anchor: tuple[int, int] | None = None  # (tick, timestamp) of the first frame
        self._marker = True

    def push(self, tick: int, sample_rate: int, pcm: bytes) -> list[bytes]:
        """Playout's frame of ``tick``; the packets now complete."""
        packets: list[bytes] = []
        if self._anchor is None:
            self._anchor = (tick, self.timestamp)
        elif tick != self._last_tick + 1:
            packets += self.end_talkspurt()
            # The new talkspurt starts where playout's clock says (never back over
            # what was sent).
            frame = (len(pcm) // 2) * SAMPLE_RATE // sample_rate
            on_clock = (self._anchor[1] + (tick - self._anchor[0]) * frame) & 0xFFFFFFFF
            if 0 < (on_clock - self.timestamp) & 0xFFFFFFFF < 0x80000000:
                self.timestamp = on_clock
        self._last_tick = tick
        self._pcm += self._narrowband.convert(sample_rate, pcm)
        return packets + self._whole_packets()

    def flush(self) -> None:
        """Barge-in: what is buffered is dropped; the next packet starts a talkspurt."""
        self.samples_dropped += len(self._pcm) // 2
        self._pcm.clear()
        self._narrowband.reset()
        self._marker = True

    def end_talkspurt(self) -> list[bytes]:
        """The agent fell silent (a gap in playout's ticks): the resampler's tail and
        the last partial packet go out; the next packet carries the marker."""
        self._pcm += self._narrowband.tail()
        packets = self._whole_packets()
        packets += self.send_partial()
        self._marker = True
        return packets

    def send_partial(self) -> list[bytes]:
        """No frame for a while: the buffered remainder goes out padded with silence,
        so the caller hears the end of what was said without waiting for more. The
        timestamp goes back over the padding: should the talkspurt go on, its next
        packet takes up where the audio, not the padding, ended."""
        if not self._pcm:
            return []
        padding = self.packet_samples - len(self._pcm) // 2
        packet = self._packet(self._pcm + bytes(2 * padding))
        self._pcm.clear()
        self.timestamp = (self.timestamp - padding) & 0xFFFFFFFF
        return [packet]

    def _whole_packets(self) -> list[bytes]:
        size = 2 * self.packet_samples
        packets = []
        while len(self._pcm) >= size:
            packets.append(self._packet(self._pcm[:size]))
            del self._pcm[:size]
        return packets

    def _packet(self, pcm: bytes | bytearray) -> bytes:
        packet = build_rtp(self.payload_type, self.seq, self.timestamp, self.ssrc,
                           self.codec.encode(pcm), self._marker)
        self._marker = False
        self.seq = (self.seq + 1) & 0xFFFF
        self.timestamp = (self.timestamp + self.packet_samples) & 0xFFFFFFFF
        self.packets += 1
        return packet
