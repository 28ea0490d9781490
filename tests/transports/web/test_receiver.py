"""The inbound audio buffer: each Opus packet is handed on as it arrives, in order;
duplicates and packets behind the last one handed on are dropped and counted."""

from __future__ import annotations

import asyncio

from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtp import RtpPacket

from pipeline.transports.web.receiver import ImmediateAudioBuffer, decode_on_arrival


def _packet(seq: int, payload: bytes) -> RtpPacket:
    packet = RtpPacket(payload_type=111, sequence_number=seq, timestamp=seq * 960)
    packet._data = payload  # type: ignore[attr-defined]  # what aiortc's depayload sets
    return packet


def test_each_packet_is_released_on_arrival_with_its_payload() -> None:
    buffer = ImmediateAudioBuffer()
    for seq in (7, 8, 10):  # 9 is lost: nothing waits for it
        pli, frame = buffer.add(_packet(seq, bytes([seq]) * 3))
        assert not pli and frame is not None
        assert frame.data == bytes([seq]) * 3 and frame.timestamp == seq * 960
    assert (buffer.released, buffer.dropped_late) == (3, 0)


def test_duplicates_and_late_packets_are_dropped_and_counted() -> None:
    buffer = ImmediateAudioBuffer()
    assert buffer.add(_packet(100, b"a"))[1] is not None
    assert buffer.add(_packet(100, b"a"))[1] is None  # duplicate
    assert buffer.add(_packet(99, b"z"))[1] is None  # behind what was handed on
    assert buffer.add(_packet(101, b"b"))[1] is not None
    assert (buffer.released, buffer.dropped_late) == (2, 2)


def test_the_sequence_number_wraps_around() -> None:
    buffer = ImmediateAudioBuffer()
    released = [buffer.add(_packet(seq, b"x"))[1] is not None for seq in (65534, 65535, 0, 1)]
    assert released == [True, True, True, True]
    assert buffer.add(_packet(65535, b"x"))[1] is None  # behind 1, across the wrap
    assert buffer.dropped_late == 1


def test_the_swap_reaches_aiortcs_receiver() -> None:
    async def swap() -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            receiver = pc.addTransceiver("audio").receiver
            buffer = decode_on_arrival(receiver)
            assert receiver._RTCRtpReceiver__jitter_buffer is buffer  # type: ignore[attr-defined]
        finally:
            await pc.close()

    asyncio.run(swap())
