"""The inbound packet taker: each Opus packet is handed on as it arrives, in order;
duplicates and packets behind the last one handed on are dropped and counted."""

from __future__ import annotations

import asyncio

from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtp import RtpPacket

from pipeline.transports.web.receiver import PacketsOnArrival, take_packets_on_arrival


def _packet(seq: int, payload: bytes) -> RtpPacket:
    packet = RtpPacket(payload_type=111, sequence_number=seq, timestamp=seq * 960)
    packet._data = payload  # type: ignore[attr-defined]  # what aiortc's depayload sets
    return packet


def _taker() -> tuple[PacketsOnArrival, list[bytes]]:
    got: list[bytes] = []
    return PacketsOnArrival(lambda payload, timestamp: got.append(payload)), got


def test_each_packet_is_handed_on_at_once_and_aiortc_gets_nothing() -> None:
    taker, got = _taker()
    stamps: list[int] = []
    taker.on_payload = lambda payload, timestamp: (got.append(payload), stamps.append(timestamp))
    for seq in (7, 8, 10):  # 9 is lost: nothing waits for it
        assert taker.add(_packet(seq, bytes([seq]) * 3)) == (False, None)
    assert got == [bytes([7]) * 3, bytes([8]) * 3, bytes([10]) * 3]
    assert stamps == [7 * 960, 8 * 960, 10 * 960]
    assert (taker.taken, taker.dropped_late) == (3, 0)


def test_duplicates_and_late_packets_are_dropped_and_counted() -> None:
    taker, got = _taker()
    for seq, payload in ((100, b"a"), (100, b"a"), (99, b"z"), (101, b"b")):
        taker.add(_packet(seq, payload))
    assert got == [b"a", b"b"]
    assert (taker.taken, taker.dropped_late) == (2, 2)


def test_the_sequence_number_wraps_around() -> None:
    taker, got = _taker()
    for seq in (65534, 65535, 0, 1, 65535):  # the last is behind 1, across the wrap
        taker.add(_packet(seq, seq.to_bytes(2, "big")))
    assert [int.from_bytes(p, "big") for p in got] == [65534, 65535, 0, 1]
    assert taker.dropped_late == 1


def test_the_swap_reaches_aiortcs_receiver() -> None:
    async def swap() -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            receiver = pc.addTransceiver("audio").receiver
            taker = take_packets_on_arrival(receiver, lambda payload, timestamp: None)
            assert receiver._RTCRtpReceiver__jitter_buffer is taker  # type: ignore[attr-defined]
        finally:
            await pc.close()

    asyncio.run(swap())
