"""The caller's RTP, datagram by datagram, into 8 kHz PCM and key presses.

Logic apart from the socket: each datagram is parsed (malformed ones counted and
dropped), checked against the latch (symmetric RTP) and the negotiated payload
types, then ordered by the jitter buffer, whose output is decoded (G.711) or, for
telephone-events, turned into ``DtmfReceived``. Telephone-events share the audio's
sequence numbers (one RTP stream), so they go through the jitter buffer too.

A lost audio packet is concealed: the previous packet repeated at half level, then
silence for any further loss in a row. A jump in the RTP timestamp with no loss (the
caller's silence suppression, or a key press that replaced audio) is filled with
silence up to ``MAX_FILL_S``, so the caller's audio keeps its place in time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ipc.schema import DtmfReceived
from native.convert import gain_s16
from pipeline.transports.rtp.codec import G711, SAMPLE_RATE
from pipeline.transports.rtp.dtmf import TelephoneEvents
from pipeline.transports.rtp.jitter import DEFAULT_DEPTH, JitterBuffer
from pipeline.transports.rtp.latch import SymmetricLatch
from pipeline.transports.rtp.packet import MalformedRtp, RtpPacket, parse_rtp

MAX_FILL_S: Final = 1.0
CONCEAL_GAIN: Final = 0.5


@dataclass
class Received:
    """What a datagram released: caller audio (8 kHz mono int16) and key presses."""

    pcm: list[bytes] = field(default_factory=list)
    presses: list[DtmfReceived] = field(default_factory=list)


class RtpInbound:
    """One call's inbound RTP stream."""

    def __init__(self, codec: G711, payload_type: int, dtmf_payload_type: int,
                 latch: SymmetricLatch, jitter_depth: int = DEFAULT_DEPTH) -> None:
        self.codec = codec
        self.payload_type = payload_type
        # 0 is PCMU's static number, never a telephone-event's: 0 means none offered.
        self.dtmf_payload_type = dtmf_payload_type or -1
        self.latch = latch
        self.jitter: JitterBuffer[RtpPacket] = JitterBuffer(jitter_depth)
        self.events = TelephoneEvents()
        self.packets = 0
        self.malformed = 0
        self.unknown_type = 0
        self.ssrc_changes = 0
        self.concealed = 0
        self.samples_filled = 0
        self._ssrc: int | None = None
        self._next_ts: int | None = None
        self._last_pcm: bytes | None = None
        self._losses_in_row = 0
        self._audio_last = False

    def counters(self) -> dict[str, int]:
        j = self.jitter
        return {
            "packets_in": self.packets, "packets_malformed": self.malformed,
            "packets_wrong_source": self.latch.wrong_source,
            "packets_unknown_type": self.unknown_type, "packets_lost": j.lost,
            "packets_late": j.late, "packets_reordered": j.reordered,
            "packets_duplicate": j.duplicate, "stream_resyncs": j.resyncs,
            "ssrc_changes": self.ssrc_changes, "packets_concealed": self.concealed,
            "samples_filled": self.samples_filled, "dtmf_presses": self.events.presses,
            "dtmf_malformed": self.events.malformed, "dtmf_ignored": self.events.ignored,
        }

    def datagram(self, data: bytes, source: tuple[str, int]) -> Received:
        """One datagram from ``source``; what it released (often nothing new)."""
        out = Received()
        try:
            packet = parse_rtp(data)
        except MalformedRtp:
            self.malformed += 1
            return out
        if not self.latch.accept(source):
            return out
        if packet.payload_type not in (self.payload_type, self.dtmf_payload_type):
            self.unknown_type += 1
            return out
        self.packets += 1
        if packet.ssrc != self._ssrc:
            if self._ssrc is not None:
                self.ssrc_changes += 1
                self._take(self.jitter.restart(), out)
                self._next_ts = None
            self._ssrc = packet.ssrc
        self._take(self.jitter.push(packet.seq, packet), out)
        return out

    def release(self) -> Received:
        """The caller paused behind a gap: what the jitter buffer held comes out now
        (the gap as lost) rather than wait for packets that may be seconds away."""
        out = Received()
        self._take(self.jitter.drain(), out)
        return out

    def end(self) -> Received:
        """The stream is over: what the jitter buffer held, and a press still down."""
        out = self.release()
        out.presses += self.events.flush()
        return out

    def _take(self, released: list[RtpPacket | None], out: Received) -> None:
        for packet in released:
            if packet is None:
                self._conceal(out)
            elif packet.payload_type == self.dtmf_payload_type:
                self._audio_last = False
                out.presses += self.events.push(packet.timestamp, packet.payload)
            else:
                self._play(packet, out)

    def _play(self, packet: RtpPacket, out: Received) -> None:
        pcm = self.codec.decode(packet.payload)
        if self._next_ts is not None:
            gap = (packet.timestamp - self._next_ts + 0x80000000) % 0x100000000 - 0x80000000
            if 0 < gap <= MAX_FILL_S * SAMPLE_RATE:
                self.samples_filled += gap
                out.pcm.append(bytes(2 * gap))
        self._next_ts = (packet.timestamp + len(packet.payload)) & 0xFFFFFFFF
        out.pcm.append(pcm)
        self._last_pcm = pcm
        self._losses_in_row = 0
        self._audio_last = True

    def _conceal(self, out: Received) -> None:
        """A lost packet: only audio is concealed (a lost key-press packet is not)."""
        if not self._audio_last or self._last_pcm is None:
            return
        if self._losses_in_row == 0:
            pcm = bytearray(self._last_pcm)
            gain_s16(pcm, CONCEAL_GAIN)
        else:
            pcm = bytearray(len(self._last_pcm))
        self._losses_in_row += 1
        self.concealed += 1
        out.pcm.append(bytes(pcm))
        if self._next_ts is not None:
            self._next_ts = (self._next_ts + len(pcm) // 2) & 0xFFFFFFFF
