"""Opus both ways on the edge's event loop: no thread hop per packet.

aiortc decodes each received packet on a decoder thread and encodes each sent frame
on the default executor; every 20 ms frame of every call then crosses threads twice
with a future and a wake-up each way, which cost the edge more CPU than Opus itself
(py-spy, 10 calls). Opus on a 20 ms mono frame takes ~0.1 ms, so the edge does it
inline: :class:`OpusDecoder` turns a packet into mono int16 PCM at 48 kHz (the
caller's stereo is downmixed by libopus itself), :class:`OpusEncoder` turns one
20 ms mono frame into one packet stamped for aiortc's sender, which then only
packetizes it (``RTCRtpSender`` passes pre-encoded packets through).
"""

from __future__ import annotations

import fractions
from typing import Final

import av
from av import AudioFrame, CodecContext, Packet
from av.stream import Stream

RATE: Final = 48000  # Opus's clock
TIME_BASE: Final = fractions.Fraction(1, RATE)
# Voice, mono: 32 kb/s is transparent for speech (aiortc sends 96 kb/s stereo).
BIT_RATE: Final = 32000


class OpusDecoder:
    """One caller's packets to mono s16 PCM at 48 kHz; a packet that does not decode is
    counted and skipped (the decoder keeps its state)."""

    def __init__(self) -> None:
        self.codec = CodecContext.create("libopus", "r")
        self.codec.format = "s16"
        self.codec.layout = "mono"
        self.codec.sample_rate = RATE
        self.errors = 0

    def decode(self, payload: bytes) -> list[bytes]:
        try:
            frames = self.codec.decode(Packet(payload))
        except av.FFmpegError:
            self.errors += 1
            return []
        return [bytes(memoryview(f.planes[0])[: 2 * f.samples]) for f in frames]


class OpusEncoder:
    """The agent's 20 ms mono frames to Opus packets (application ``voip``)."""

    def __init__(self) -> None:
        self.codec = CodecContext.create("libopus", "w")
        self.codec.bit_rate = BIT_RATE
        self.codec.format = "s16"
        self.codec.layout = "mono"
        self.codec.options = {"application": "voip"}
        self.codec.sample_rate = RATE
        self.codec.time_base = TIME_BASE

    def encode(self, frame: AudioFrame) -> Packet[Stream]:
        """One packet for ``frame``, stamped with the frame's pts (libopus gives one
        packet per 20 ms frame, with no look-ahead buffering)."""
        packets = self.codec.encode(frame)
        if len(packets) != 1:
            raise RuntimeError(f"libopus gave {len(packets)} packets for one frame")
        packet = packets[0]
        packet.pts = frame.pts
        packet.time_base = TIME_BASE
        return packet
