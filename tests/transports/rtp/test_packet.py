"""RTP header parsing and building (RFC 3550) on crafted packets."""

from __future__ import annotations

import struct

import pytest

from pipeline.transports.rtp.packet import MalformedRtp, RtpPacket, build_rtp, parse_rtp


def test_build_then_parse_gives_the_fields_back() -> None:
    data = build_rtp(8, 65535, 0xFFFFFFFF, 0xDEADBEEF, b"\x01\x02\x03", marker=True)
    assert data[:2] == b"\x80\x88" and len(data) == 12 + 3
    assert parse_rtp(data) == RtpPacket(8, True, 65535, 0xFFFFFFFF, 0xDEADBEEF, b"\x01\x02\x03")


def test_sequence_and_timestamp_wrap_when_built() -> None:
    packet = parse_rtp(build_rtp(0, 65536 + 5, 2**32 + 7, 1, b""))
    assert (packet.seq, packet.timestamp, packet.marker) == (5, 7, False)


def test_csrcs_extension_and_padding_are_skipped() -> None:
    csrcs = struct.pack("!II", 11, 22)
    extension = struct.pack("!HH", 0xBEDE, 2) + bytes(8)
    payload = b"\xaa" * 5
    padding = b"\x00\x00\x03"
    first = 0x80 | 0x20 | 0x10 | 2  # V=2, P, X, CC=2
    data = struct.pack("!BBHII", first, 0, 7, 160, 99) + csrcs + extension + payload + padding
    assert parse_rtp(data) == RtpPacket(0, False, 7, 160, 99, payload)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "shorter than an RTP header"),
        (b"\x80\x00" + bytes(9), "shorter than an RTP header"),
        (b"\x40\x00" + bytes(10), "version 1"),
        (b"\x00\x00" + bytes(10), "version 0"),
        (b"\x82\x00" + bytes(10) + bytes(4), "exceed"),  # two CSRCs promised, one there
        (b"\x90\x00" + bytes(10) + b"\xbe\xde", "extension cut short"),
        (b"\x90\x00" + bytes(10) + b"\xbe\xde\x00\x05", "exceed"),
        (b"\xa0\x00" + bytes(10) + b"\x00", "padding flag set without a padding count"),
        (b"\xa0\x00" + bytes(10) + b"\x01\x20", "exceed"),
    ],
)
def test_malformed_packets_say_what_is_wrong(data: bytes, why: str) -> None:
    with pytest.raises(MalformedRtp, match=why):
        parse_rtp(data)
