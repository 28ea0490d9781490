"""The caller's RTP into PCM and key presses: latching, payload types, loss, gaps, DTMF."""

from __future__ import annotations

import struct

import numpy as np

from ipc.schema import DtmfReceived
from native import g711
from pipeline.transports.rtp.codec import codec
from pipeline.transports.rtp.inbound import RtpInbound
from pipeline.transports.rtp.latch import SymmetricLatch
from pipeline.transports.rtp.packet import build_rtp

CALLER = ("127.0.0.1", 40000)
STRANGER = ("127.0.0.1", 40002)
SSRC = 0x1234
DTMF_PT = 101


def tone(i: int, n: int = 160) -> bytes:
    """Packet ``i``'s 20 ms of a 400 Hz tone, as int16 PCM exactly G.711-representable."""
    t = np.arange(i * n, (i + 1) * n) / 8000
    pcm = (8000 * np.sin(2 * np.pi * 400 * t)).astype("<i2").tobytes()
    return g711.ulaw_decode(g711.ulaw_encode(pcm))


def audio(i: int, seq0: int = 100, ts0: int = 5000) -> bytes:
    return build_rtp(0, seq0 + i, ts0 + 160 * i, SSRC, g711.ulaw_encode(tone(i)))


def inbound() -> RtpInbound:
    return RtpInbound(codec("PCMU"), 0, DTMF_PT, SymmetricLatch(("127.0.0.1", 9)), 3)


def pcm_of(rx: RtpInbound, datagrams: list[bytes], source: tuple[str, int] = CALLER) -> bytes:
    return b"".join(p for d in datagrams for p in rx.datagram(d, source).pcm)


def test_in_order_audio_decodes_exactly() -> None:
    rx = inbound()
    assert pcm_of(rx, [audio(i) for i in range(5)]) == b"".join(tone(i) for i in range(5))
    counters = rx.counters()
    assert counters["packets_in"] == 5
    assert sum(v for k, v in counters.items() if k != "packets_in") == 0


def test_the_first_sender_is_latched_and_others_are_ignored() -> None:
    rx = inbound()
    assert rx.latch.remote == ("127.0.0.1", 9)
    assert pcm_of(rx, [audio(0)]) == tone(0)
    assert rx.latch.remote == CALLER and rx.latch.latched
    assert pcm_of(rx, [audio(1)], STRANGER) == b""
    assert pcm_of(rx, [audio(1)]) == tone(1)
    assert rx.counters()["packets_wrong_source"] == 1 and rx.counters()["packets_in"] == 2


def test_malformed_and_unknown_payload_types_are_counted_and_dropped() -> None:
    rx = inbound()
    assert pcm_of(rx, [b"\x80\x00", b"\x40" + bytes(20)]) == b""
    assert not rx.latch.latched  # garbage does not latch
    assert pcm_of(rx, [build_rtp(13, 1, 0, SSRC, b"\x40")]) == b""  # comfort noise
    c = rx.counters()
    assert (c["packets_malformed"], c["packets_unknown_type"], c["packets_in"]) == (2, 1, 0)


def test_reordered_packets_come_out_in_order() -> None:
    rx = inbound()
    order = [0, 2, 1, 3, 5, 4]
    assert pcm_of(rx, [audio(i) for i in order]) == b"".join(tone(i) for i in range(6))
    assert rx.counters()["packets_reordered"] == 2


def test_a_lost_packet_is_the_last_one_at_half_level_then_silence() -> None:
    rx = inbound()
    got = pcm_of(rx, [audio(i) for i in (0, 3, 4, 5)])
    half = (np.frombuffer(tone(0), "<i2") * 0.5).round().astype("<i2").tobytes()  # ties even
    assert got == tone(0) + half + bytes(320) + tone(3) + tone(4) + tone(5)
    c = rx.counters()
    assert (c["packets_lost"], c["packets_concealed"], c["samples_filled"]) == (2, 2, 0)


def test_a_timestamp_gap_without_loss_is_filled_with_silence() -> None:
    rx = inbound()
    late = build_rtp(0, 101, 5000 + 160 + 800, SSRC, g711.ulaw_encode(tone(1)))
    assert pcm_of(rx, [audio(0), late]) == tone(0) + bytes(1600) + tone(1)
    assert rx.counters()["samples_filled"] == 800


def test_a_key_press_between_audio_is_one_event_and_keeps_the_timeline() -> None:
    rx = inbound()
    ts = 5000 + 160 * 2
    press = [struct.pack("!BBH", 9, 0x0A, d) for d in (160, 320)]
    press += [struct.pack("!BBH", 9, 0x8A, 480)] * 3
    datagrams = [audio(0), audio(1)]
    datagrams += [build_rtp(DTMF_PT, 102 + k, ts, SSRC, p, k == 0) for k, p in enumerate(press)]
    resume = build_rtp(0, 107, ts + 480, SSRC, g711.ulaw_encode(tone(5)))
    presses: list[DtmfReceived] = []
    pcm = b""
    for d in [*datagrams, resume]:
        got = rx.datagram(d, CALLER)
        presses += got.presses
        pcm += b"".join(got.pcm)
    assert presses == [DtmfReceived("9", 9, 60)]
    assert pcm == tone(0) + tone(1) + bytes(960) + tone(5)
    assert rx.counters()["dtmf_presses"] == 1 and rx.counters()["packets_lost"] == 0


def test_a_new_ssrc_restarts_the_stream() -> None:
    rx = inbound()
    other = build_rtp(0, 9000, 1, SSRC + 1, g711.ulaw_encode(tone(7)))
    assert pcm_of(rx, [audio(0), other, other]) == tone(0) + tone(7)
    c = rx.counters()
    assert (c["ssrc_changes"], c["packets_duplicate"], c["stream_resyncs"]) == (1, 1, 0)


def test_release_gives_what_waits_behind_a_gap_and_the_stream_goes_on() -> None:
    rx = inbound()
    assert pcm_of(rx, [audio(0), audio(2)]) == tone(0)
    half = (np.frombuffer(tone(0), "<i2") * 0.5).round().astype("<i2").tobytes()
    assert b"".join(rx.release().pcm) == half + tone(2)
    assert rx.release().pcm == []
    assert pcm_of(rx, [audio(3)]) == tone(3)
    assert rx.counters()["packets_lost"] == 1


def test_end_releases_what_is_held_and_a_press_still_down() -> None:
    rx = inbound()
    pcm_of(rx, [audio(0), audio(2)])
    rx.datagram(build_rtp(DTMF_PT, 103, 9999, SSRC, struct.pack("!BBH", 11, 10, 800)), CALLER)
    out = rx.end()
    assert b"".join(out.pcm) == (np.frombuffer(tone(0), "<i2") * 0.5).round().astype(
        "<i2").tobytes() + tone(2)
    assert out.presses == [DtmfReceived("#", 11, 100)]
