"""The agent's audio as RTP: whole 20 ms packets, numbering, timestamps, markers, flush."""

from __future__ import annotations

import numpy as np
import pytest

from native import g711
from native.resample import resample_s16
from pipeline.transports.rtp.codec import codec
from pipeline.transports.rtp.packet import RtpPacket, parse_rtp
from pipeline.transports.rtp.packetizer import Packetizer


def sine(n: int, rate: int, start: int = 0, freq: float = 300.0) -> bytes:
    t = np.arange(start, start + n) / rate
    return (6000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def packetizer(ptime_ms: int = 20) -> Packetizer:
    return Packetizer(codec("PCMA"), 8, ptime_ms, ssrc=77)


def parsed(packets: list[bytes]) -> list[RtpPacket]:
    return [parse_rtp(p) for p in packets]


@pytest.mark.parametrize("frame_ms", [10, 20])
def test_frames_become_whole_20ms_packets_numbered_in_order(frame_ms: int) -> None:
    pz = packetizer()
    seq0, ts0 = pz.seq, pz.timestamp
    n = 24 * frame_ms
    packets = parsed([p for k in range(10) for p in pz.push(k, 24000, sine(n, 24000, k * n))])
    assert len(packets) == 10 * frame_ms // 20
    assert all(len(p.payload) == 160 and p.ssrc == 77 and p.payload_type == 8 for p in packets)
    assert [p.seq for p in packets] == [(seq0 + i) & 0xFFFF for i in range(len(packets))]
    assert [p.timestamp for p in packets] == [(ts0 + 160 * i) & 0xFFFFFFFF
                                              for i in range(len(packets))]
    assert [p.marker for p in packets] == [True] + [False] * (len(packets) - 1)
    assert pz.packets == len(packets)


def test_the_audio_is_the_resampled_frames_in_g711() -> None:
    pz = packetizer()
    src = sine(24000, 24000)
    packets = [p for k in range(50) for p in pz.push(k, 24000, src[960 * k : 960 * (k + 1)])]
    got = np.frombuffer(g711.alaw_decode(b"".join(p.payload for p in parsed(packets))), "<i2")
    want = np.frombuffer(g711.alaw_decode(g711.alaw_encode(resample_s16(src, 24000, 8000))),
                         "<i2")
    lag = int(np.argmax(np.correlate(got[:4000].astype(float), want[:400].astype(float))))
    n = min(len(got) - lag, len(want)) - 200
    a, b = got[lag : lag + n].astype(float), want[:n].astype(float)
    assert np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)) > 0.99


def test_8khz_frames_pass_without_resampling() -> None:
    pz = packetizer()
    pcm = sine(160, 8000)
    (packet,) = parsed(pz.push(0, 8000, pcm))
    assert packet.payload == g711.alaw_encode(pcm)


def test_a_talkspurt_after_a_silence_starts_on_playouts_clock() -> None:
    pz = packetizer()
    ts0 = pz.timestamp
    first = parsed(pz.push(0, 24000, sine(480, 24000)) + pz.push(1, 24000, sine(480, 24000)))
    assert [p.timestamp for p in first] == [ts0, ts0 + 160]
    # Ticks 2..49 were silent: the resampler's tail goes out (padded), then tick 50's
    # packet is at 50 * 20 ms on the clock, with the marker.
    tail, start = parsed(pz.push(50, 24000, sine(480, 24000)))
    assert (tail.timestamp, tail.marker) == (ts0 + 320, False)
    assert (start.timestamp, start.marker) == (ts0 + 50 * 160, True)
    assert [p.seq for p in [*first, tail, start]] == [(first[0].seq + i) & 0xFFFF
                                                      for i in range(4)]
    (more,) = parsed(pz.push(51, 24000, sine(480, 24000)))
    assert (more.timestamp, more.marker) == (ts0 + 51 * 160, False)


def test_a_partial_packet_goes_out_padded_without_moving_the_clock() -> None:
    pz = packetizer()
    (first,) = parsed(pz.push(0, 24000, sine(720, 24000)))  # 240 samples at 8 kHz
    (partial,) = parsed(pz.send_partial())  # the 80 left over, padded to 160
    assert partial.timestamp == first.timestamp + 160 and not partial.marker
    pcm = np.frombuffer(g711.alaw_decode(partial.payload), "<i2")
    assert np.any(pcm[:80]) and np.all(pcm[80:] == pcm[159])  # padding: A-law's 0
    assert pz.send_partial() == []
    # The talkspurt goes on: its next packet starts where the audio ended.
    (after,) = parsed(pz.push(1, 24000, sine(480, 24000, 720)))
    assert after.timestamp == first.timestamp + 240 and not after.marker
    assert after.seq == (partial.seq + 1) & 0xFFFF


def test_flush_drops_buffered_audio_and_marks_the_next_packet() -> None:
    pz = packetizer()
    pz.push(0, 24000, sine(720, 24000))
    pz.flush()
    assert pz.samples_dropped > 0
    packets = parsed(pz.push(1, 24000, sine(480, 24000)) + pz.push(2, 24000, sine(480, 24000)))
    assert packets and packets[0].marker and not any(p.marker for p in packets[1:])


def test_bad_ptime_is_refused() -> None:
    with pytest.raises(ValueError, match="ptime"):
        packetizer(0)
