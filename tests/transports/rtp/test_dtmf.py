"""RFC 4733 telephone-events: one DtmfReceived per key press, however it was sent."""

from __future__ import annotations

import struct

from ipc.schema import DtmfReceived
from pipeline.transports.rtp.dtmf import TelephoneEvents


def event(code: int, end: bool, duration: int, volume: int = 10) -> bytes:
    return struct.pack("!BBH", code, (0x80 if end else 0) | volume, duration)


def press(ts: int, code: int, durations: list[int], ends: int = 3) -> list[tuple[int, bytes]]:
    """A key press as a sender sends it: starts/updates, then the end bit ``ends`` times."""
    packets = [(ts, event(code, False, d)) for d in durations]
    return packets + [(ts, event(code, True, durations[-1] + 160))] * ends


def decode(dec: TelephoneEvents, packets: list[tuple[int, bytes]]) -> list[DtmfReceived]:
    out: list[DtmfReceived] = []
    for ts, payload in packets:
        out += dec.push(ts, payload)
    return out


def test_one_press_with_three_end_retransmits_is_one_event() -> None:
    dec = TelephoneEvents()
    got = decode(dec, press(1000, 5, [0, 400, 800]))
    assert got == [DtmfReceived("5", 5, 120)]  # 960 samples at 8 kHz
    assert (dec.presses, dec.malformed, dec.ignored) == (1, 0, 0)


def test_every_key_has_its_digit() -> None:
    dec = TelephoneEvents()
    packets = [p for code in range(16) for p in press(1000 * (code + 1), code, [0])]
    assert "".join(e.digit for e in decode(dec, packets)) == "0123456789*#ABCD"


def test_the_same_key_twice_is_two_presses() -> None:
    dec = TelephoneEvents()
    got = decode(dec, press(1000, 1, [0, 160]) + press(5000, 1, [0, 160]))
    assert [e.digit for e in got] == ["1", "1"]


def test_a_press_whose_ends_were_lost_is_reported_when_the_next_begins() -> None:
    dec = TelephoneEvents()
    got = decode(dec, press(1000, 7, [0, 320], ends=0))
    assert got == []
    assert decode(dec, press(9000, 8, [0])) == [DtmfReceived("7", 7, 40), DtmfReceived("8", 8, 20)]


def test_a_press_still_down_at_the_end_is_flushed_once() -> None:
    dec = TelephoneEvents()
    decode(dec, press(1000, 0, [0, 800], ends=0))
    assert dec.flush() == [DtmfReceived("0", 0, 100)]
    assert dec.flush() == []


def test_stragglers_of_a_reported_press_are_ignored() -> None:
    dec = TelephoneEvents()
    packets = press(1000, 3, [0])
    got = decode(dec, [*packets, (1000, event(3, False, 480))])  # a start arriving late
    assert got == [DtmfReceived("3", 3, 20)] and dec.presses == 1


def test_non_dtmf_events_and_short_payloads_are_counted_not_reported() -> None:
    dec = TelephoneEvents()
    assert decode(dec, press(1000, 16, [0])) == []  # flash
    assert dec.push(2000, b"\x01\x80") == []
    assert (dec.presses, dec.ignored, dec.malformed) == (0, 1, 1)
