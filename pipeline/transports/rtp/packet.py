"""RTP packets (RFC 3550): the fixed header, CSRCs, a header extension and padding.

Only what a media endpoint needs: a parsed packet keeps its payload type, marker,
sequence number, timestamp, SSRC and payload; CSRCs and the extension are skipped.
A datagram that is not a well-formed version-2 packet raises :class:`MalformedRtp`
(the caller counts and drops it).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

RTP_VERSION: Final = 2
HEADER: Final = struct.Struct("!BBHII")  # V/P/X/CC, M/PT, seq, timestamp, SSRC


class MalformedRtp(ValueError):
    """A datagram that is not a well-formed RTP packet."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    marker: bool
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket:
    """The packet in ``data``; :class:`MalformedRtp` says what is wrong with it."""
    if len(data) < HEADER.size:
        raise MalformedRtp(f"{len(data)} bytes is shorter than an RTP header")
    first, second, seq, timestamp, ssrc = HEADER.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        raise MalformedRtp(f"RTP version {first >> 6}, not 2")
    start = HEADER.size + 4 * (first & 0x0F)
    if first & 0x10:
        if len(data) < start + 4:
            raise MalformedRtp("header extension cut short")
        start += 4 + 4 * int.from_bytes(data[start + 2 : start + 4], "big")
    end = len(data)
    if first & 0x20:
        if end == 0 or data[-1] == 0:
            raise MalformedRtp("padding flag set without a padding count")
        end -= data[-1]
    if start > end:
        raise MalformedRtp(f"headers and padding ({start} + {len(data) - end} bytes) "
                           f"exceed the {len(data)}-byte packet")
    return RtpPacket(second & 0x7F, bool(second & 0x80), seq, timestamp, ssrc,
                     bytes(data[start:end]))


def build_rtp(payload_type: int, seq: int, timestamp: int, ssrc: int, payload: bytes,
              marker: bool = False) -> bytes:
    """A version-2 packet with no padding, CSRC or extension (what this endpoint sends)."""
    second = (0x80 if marker else 0) | (payload_type & 0x7F)
    header = HEADER.pack(RTP_VERSION << 6, second, seq & 0xFFFF, timestamp & 0xFFFFFFFF,
                         ssrc & 0xFFFFFFFF)
    return header + payload
