"""SipConnection over real UDP sockets on loopback, with a test RTP peer as the phone."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from ipc.schema import (
    DtmfReceived,
    RtpReady,
    SessionConfig,
    SessionEvent,
    SipTransport,
    WebTransport,
)
from native import g711
from pipeline.transports.registry import edge_connector
from pipeline.transports.rtp.packet import build_rtp
from pipeline.transports.sip.connection import SipConnection
from tests.transports.rtp.peer import RtpPeer


def tone(n: int, freq: float = 440.0) -> bytes:
    t = np.arange(n) / 8000
    return (7000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def connection(tmp_path: Path, remote: tuple[str, int], events: list[SessionEvent],
               **spec: object) -> SipConnection:
    transport = SipTransport("sip-test", remote[0], remote[1], dtmf_payload_type=101,
                             media_timeout_s=0.5, **spec)  # type: ignore[arg-type]
    conn = edge_connector("sip")(SessionConfig("s-sip", 0, str(tmp_path), transport),
                                 events.append)
    assert isinstance(conn, SipConnection)
    return conn


@contextlib.asynccontextmanager
async def peer_of(codec_name: str = "PCMU") -> AsyncIterator[tuple[RtpPeer, tuple[str, int]]]:
    peer = RtpPeer(codec_name)
    address = await peer.start()
    try:
        yield peer, address
    finally:
        peer.close()


async def read_until_end(conn: SipConnection) -> bytes:
    chunks = []
    while chunk := await asyncio.wait_for(conn.receive(), 5):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("codec_name", ["PCMU", "PCMA"])
def test_a_call_both_ways_with_a_key_press_then_the_caller_vanishes(
        tmp_path: Path, codec_name: str) -> None:
    async def call() -> None:
        events: list[SessionEvent] = []
        async with peer_of(codec_name) as (peer, address):
            payload_type = 0 if codec_name == "PCMU" else 8
            conn = connection(tmp_path, address, events, codec=codec_name,
                              payload_type=payload_type)
            fmt = await conn.open()
            assert (fmt.sample_rate, fmt.channels) == (8000, 1)
            assert conn.local_address is not None
            assert events == [RtpReady("sip-test", *conn.local_address)]
            # Before the caller sends anything, the agent's audio goes to the offer's address.
            for tick in range(5):  # 10 ms frames: two packets and a half
                await conn.send(tick, 24000, bytes(480))
            peer.remote = conn.local_address
            await peer.play(tone(1600))
            peer.press(5, 120)
            await peer.play(tone(800, 600.0))
            heard = await read_until_end(conn)
            assert conn.ended_reason == "no RTP for 0.5 s"
            await conn.close()
        assert events[1:] == [DtmfReceived("5", 5, 120)]
        # 50 ms of agent audio: two packets, and with no frame after it the last 10 ms
        # padded in a third.
        assert len(peer.received) == 3 and peer.sources == {conn.local_address}
        assert [p.marker for p in peer.received] == [True, False, False]
        assert [p.timestamp - peer.received[0].timestamp for p in peer.received] == [0, 160, 320]
        assert all(p.payload_type == payload_type for p in peer.received)
        # The caller's audio, G.711 round trip, with the key press's 120 ms as silence.
        codec_rt = g711.ulaw_decode if codec_name == "PCMU" else g711.alaw_decode
        encode = g711.ulaw_encode if codec_name == "PCMU" else g711.alaw_encode
        want = (codec_rt(encode(tone(1600))) + bytes(2 * 960)
                + codec_rt(encode(tone(800, 600.0))))
        assert heard == want
        counters = conn.counters()
        assert counters["packets_in"] == 10 + 5 + 3 + 5 and counters["dtmf_presses"] == 1
        assert counters["packets_out"] == 3 and counters["samples_filled"] == 960
        assert counters["packets_lost"] == 0 and counters["packets_wrong_source"] == 0

    asyncio.run(call())


def test_packets_from_another_source_after_latching_are_ignored(tmp_path: Path) -> None:
    async def call() -> None:
        events: list[SessionEvent] = []
        async with peer_of() as (peer, address), peer_of() as (stranger, _):
            conn = connection(tmp_path, ("127.0.0.1", 0), events)
            await conn.open()
            peer.remote = stranger.remote = conn.local_address
            assert conn.local_address is not None
            await conn.send(0, 8000, tone(160))
            assert conn.counters()["packets_unsent"] == 1  # port 0: nowhere to send yet
            peer.send_audio(tone(160))
            await asyncio.sleep(0.1)
            stranger.send_audio(tone(160, 1000.0))
            stranger.press(1)
            await asyncio.sleep(0.1)
            await conn.send(5, 8000, tone(160))  # after a silence: a new talkspurt
            await asyncio.sleep(0.1)
            heard = await read_until_end(conn)
            await conn.close()
        assert conn.latch.remote == address
        assert heard == g711.ulaw_decode(g711.ulaw_encode(tone(160)))
        assert conn.counters()["packets_wrong_source"] == 1 + 4 + 3
        assert [p.marker for p in peer.received] == [True] and stranger.received == []
        assert events == [RtpReady("sip-test", *conn.local_address)]

    asyncio.run(call())


def test_reordering_loss_and_garbage_over_the_socket(tmp_path: Path) -> None:
    async def call() -> None:
        async with peer_of() as (peer, address):
            conn = connection(tmp_path, address, [])
            await conn.open()
            peer.remote = conn.local_address
            chunks = [tone(160, 300.0 + 100 * i) for i in range(5)]

            def packet(i: int) -> bytes:
                return build_rtp(0, 500 + i, 160 * i, 7, g711.ulaw_encode(chunks[i]))

            for data in [packet(0), b"\x00garbage", packet(2), packet(1), packet(4)]:
                peer.send_raw(data)
            # Packet 3 never comes: after a pause, what waits behind it is released
            # (the call goes on; the media timeout is 0.5 s).
            got = b""
            for _ in range(5):
                got += await asyncio.wait_for(conn.receive(), 5)
            assert not conn.ended_reason
            assert await asyncio.wait_for(conn.receive(), 5) == b""
            await conn.close()
        rt = [g711.ulaw_decode(g711.ulaw_encode(c)) for c in chunks]
        half = (np.frombuffer(rt[2], "<i2") * 0.5).round().astype("<i2").tobytes()
        assert got == rt[0] + rt[1] + rt[2] + half + rt[4]
        counters = conn.counters()
        assert (counters["packets_in"], counters["packets_malformed"]) == (4, 1)
        assert (counters["packets_reordered"], counters["packets_lost"]) == (1, 1)
        assert counters["packets_concealed"] == 1

    asyncio.run(call())


def test_a_wrong_spec_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="not a SIP transport"):
        SipConnection(SessionConfig("s", 0, str(tmp_path), WebTransport("pc", "sdp")),
                      lambda e: None)
    with pytest.raises(ValueError, match="unsupported RTP codec 'G722'"):
        connection(tmp_path, ("127.0.0.1", 4000), [], codec="G722")
    with pytest.raises(ValueError, match="payload types"):
        connection(tmp_path, ("127.0.0.1", 4000), [], payload_type=300)
