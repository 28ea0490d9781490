"""The loopback capture's RTP reading counts what the load test relies on: a reply
received whole scores 0 glitches, a lost packet and a silent frame inside the echo are
each counted, and packets reordered or wrapping their sequence number rebuild the
same audio."""

from __future__ import annotations

import socket
import struct
import time

import numpy as np
import pytest

from native.g711 import ulaw_encode
from tests.telephony.wire import (
    FRAME,
    Datagram,
    LoopbackCapture,
    parse_udp,
    reply_heard,
    streams,
)

EDGE, CALLER = 40000, 6000


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(8000 * seconds)) / 8000
    return 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))


def rtp(seq: int, ts: int, pcm: np.ndarray) -> bytes:
    body = ulaw_encode((pcm * 32767).astype("<i2").tobytes())
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, 1234) + body


def call(turn: np.ndarray, *, lead: int = 10, drop: int | None = None,
         mute: int | None = None, seq0: int = 100, ts0: int = 5000) -> list[Datagram]:
    """The echo of ``turn`` after ``lead`` frames of silence, as 20 ms RTP datagrams."""
    audio = np.concatenate([np.zeros(lead * FRAME), turn, np.zeros(5 * FRAME)])
    out = []
    for k in range(len(audio) // FRAME):
        frame = audio[k * FRAME: (k + 1) * FRAME]
        if k == lead + (mute if mute is not None else -99):
            frame = np.zeros(FRAME)
        if k != lead + (drop if drop is not None else -99):
            out.append(Datagram(k * 0.02, EDGE, CALLER, rtp(seq0 + k, ts0 + k * FRAME, frame)))
    return out


def test_a_whole_reply_scores_no_glitch() -> None:
    turn = tone(1.0)
    heard = reply_heard(streams(call(turn), {EDGE})[EDGE], turn)
    assert heard.xcorr > 0.95 and (heard.glitched_frames, heard.lost_packets) == (0, 0)
    assert heard.frames == 50


def test_a_lost_packet_and_a_silent_frame_are_each_counted() -> None:
    turn = tone(1.0)
    heard = reply_heard(streams(call(turn, drop=20, mute=30), {EDGE})[EDGE], turn)
    assert (heard.glitched_frames, heard.lost_packets) == (2, 1)


def test_reordered_packets_across_a_sequence_wrap_rebuild_the_same_audio() -> None:
    turn = tone(1.0)
    packets = call(turn, seq0=65530, ts0=2**32 - 800)
    packets[0], packets[1] = packets[1], packets[0]
    packets[12], packets[13] = packets[13], packets[12]
    stream = streams(packets, {EDGE})[EDGE]
    assert stream.lost() == []
    ordered = streams(call(turn, seq0=65530, ts0=2**32 - 800), {EDGE})[EDGE]
    assert np.array_equal(stream.audio(), ordered.audio())
    assert reply_heard(stream, turn).glitched_frames == 0


def test_the_capture_sees_a_loopback_datagram_once() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        tx.bind(("127.0.0.1", 0))
        port, src = rx.getsockname()[1], tx.getsockname()[1]
        try:
            capture = LoopbackCapture()
        except PermissionError as exc:
            pytest.fail(str(exc))
        with capture:
            tx.sendto(b"hello", ("127.0.0.1", port))
            rx.recv(16)
            for _ in range(50):
                if any(d.dst == port for d in capture.datagrams):
                    break
                time.sleep(0.02)
    assert [(d.src, d.payload) for d in capture.datagrams if d.dst == port] == [(src, b"hello")]
    assert parse_udp(b"\x00" * 60) is None
