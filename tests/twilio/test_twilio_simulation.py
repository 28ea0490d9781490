"""Twilio media streams through a real ``voxpipe serve`` (offline echo engine), against a
simulated Twilio (``far_end.py``: Twilio's documented messages over a real websocket;
a simulation, as every test name here says): the audio both ways, marks, DTMF,
barge-in, bad input, calls at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tests.serve.harness import ServeProcess
from tests.transports.web.signal_match import best_correlation
from tests.twilio.calls import (
    FRAME_24K,
    TOKEN,
    edge_counters,
    new_record,
    say_and_hear,
    silence,
    turn_8k,
    turns,
    wait_closed,
)
from tests.twilio.far_end import TwilioFarEnd


def test_twilio_simulation_echo_marks_and_dtmf(server: tuple[ServeProcess, Path]) -> None:
    srv, record = server
    before = set(record.glob("tw-*"))
    said, core = turn_8k(0)

    async def call() -> TwilioFarEnd:
        fe = TwilioFarEnd(srv.url, mark_lag_s=0.15)
        await fe.connect(f"/twilio/{TOKEN}")
        await fe.start({"caller": "+15550100"})
        await say_and_hear(fe, said, len(core))
        await fe.say(silence(1.0))  # the reply's tail, and its marks' echoes
        await fe.dtmf("5")
        await fe.dtmf("#")
        await fe.say(silence(0.5))
        await fe.stop()
        return fe

    fe = asyncio.run(call())
    events = wait_closed(new_record(record, before))
    # The echo of the user's turn, through mu-law both ways and 8 <-> 24 kHz.
    corr = best_correlation(fe.heard, core)
    print(f"echo waveform correlation {corr:.3f}; {len(fe.marks_received)} marks")
    assert corr >= 0.8, f"the reply correlates {corr:.3f} with the turn: {turns(events)}"
    # Every media message came with its mark, named after a playout tick, in order.
    ticks = [int(name.removeprefix("vp")) for name in fe.marks_received]
    assert ticks == sorted(ticks) and len(set(ticks)) == len(ticks) > 0
    assert len(fe.received) // 2 == len(ticks) * 160  # 20 ms of 8 kHz per mark
    assert fe.unexpected == [] and fe.clears == 0
    keys = [(e["digit"], e["code"]) for e in events if e["type"] == "dtmf_received"]
    assert keys == [("5", 5), ("#", 11)]
    assert any(e["type"] == "agent_started_speaking" for e in events)
    counters = edge_counters(srv, "stops")
    assert counters["stops"] >= 1 and counters["dtmf_in"] >= 2


def test_twilio_simulation_barge_in_clears_and_truncates_at_the_mark_clock(
        server: tuple[ServeProcess, Path]) -> None:
    srv, record = server
    before = set(record.glob("tw-*"))
    said, core = turn_8k(0)
    interrupting, _ = turn_8k(1)
    lag_s = 0.3

    async def call() -> TwilioFarEnd:
        fe = TwilioFarEnd(srv.url, mark_lag_s=lag_s)
        await fe.connect(f"/twilio/{TOKEN}")
        await fe.start()
        # Half the reply has arrived (its echoes lag behind by lag_s and more).
        await say_and_hear(fe, said, len(core) // 2)
        # The caller speaks over the reply; from here the simulated phone plays nothing
        # more, so the marks echoed so far are exactly what was heard.
        fe.frozen = True
        speaking = asyncio.create_task(fe.say(interrupting))
        while fe.clears == 0 and not speaking.done():
            await asyncio.sleep(0.02)
        await speaking
        await fe.say(silence(1.0))
        await fe.stop()
        return fe

    fe = asyncio.run(call())
    events = wait_closed(new_record(record, before))
    assert fe.clears >= 1, "no clear after the barge-in"
    cut = [e for e in events if e["type"] == "agent_stopped_speaking" and e["interrupted"]]
    assert cut, [e["type"] for e in events]
    acked, sent = fe.acked_at_clear[0], fe.samples_at_clear[0]
    print(f"truncated at {cut[0]['played_samples']} (24 kHz); marks acknowledged {acked}, "
          f"sent {sent} (8 kHz)")
    # More was sent than heard: pacing alone would have truncated too late.
    assert sent - acked >= 5 * 160
    # The truncated item is as long as the marks acknowledged, within a frame.
    assert abs(cut[0]["played_samples"] - 3 * acked) <= FRAME_24K
    # The marks of the cleared audio, echoed by the clear, moved nothing.
    counters = edge_counters(srv, "clears")
    assert counters["clears"] >= 1 and counters["marks_cleared"] >= 1
    assert counters["marks_stale"] >= 1


def test_twilio_simulation_bad_input_is_counted_and_ignored(
        server: tuple[ServeProcess, Path]) -> None:
    srv, record = server
    before = set(record.glob("tw-*"))
    said, core = turn_8k(0)
    was = edge_counters(srv, "", timeout_s=0)

    async def call() -> TwilioFarEnd:
        fe = TwilioFarEnd(srv.url)
        await fe.connect(f"/twilio/{TOKEN}")
        await fe.send_media(b"\xff" * 160)  # before start
        await fe.start()
        await fe.send_raw("this is not json")
        await fe.send_json({"event": "wiggle", "streamSid": fe.stream_sid})
        await fe.send_json({"event": "media", "streamSid": fe.stream_sid,
                            "media": {"track": "inbound", "payload": "@@not base64@@"}})
        await fe.send_raw(b"\x00\x01binary")
        await fe.dtmf("Z")
        await say_and_hear(fe, said, len(core))  # the call goes on
        await fe.say(silence(1.0))
        await fe.stop()
        return fe

    fe = asyncio.run(call())
    events = wait_closed(new_record(record, before))
    corr = best_correlation(fe.heard, core)
    assert corr >= 0.8, f"after bad input the reply correlates {corr:.3f}: {turns(events)}"
    now = edge_counters(srv, "media_before_start")
    for name in ("media_before_start", "bad_json", "unknown_events", "malformed_messages",
                 "binary_frames", "bad_dtmf"):
        assert now.get(name, 0) - was.get(name, 0) == 1, (name, now)


def test_twilio_simulation_two_streams_at_once_each_hear_their_own_echo(
        server: tuple[ServeProcess, Path]) -> None:
    srv, record = server
    before = set(record.glob("tw-*"))
    first, first_core = turn_8k(0)
    second, second_core = turn_8k(2)

    async def one(said: npt.NDArray[np.int16], core: npt.NDArray[np.float64]) -> TwilioFarEnd:
        fe = TwilioFarEnd(srv.url)
        await fe.connect(f"/twilio/{TOKEN}")
        await fe.start()
        await say_and_hear(fe, said, len(core))
        await fe.say(silence(1.0))
        await fe.stop()
        return fe

    async def both() -> list[TwilioFarEnd]:
        return list(await asyncio.gather(one(first, first_core), one(second, second_core)))

    a, b = asyncio.run(both())
    found = set(record.glob("tw-*")) - before
    assert len(found) == 2
    calls = [turns(wait_closed(folder)) for folder in found]
    # Each far end hears its own turn, not the other's, and only its own stream's messages.
    mine = (best_correlation(a.heard, first_core), best_correlation(b.heard, second_core))
    theirs = (best_correlation(a.heard, second_core), best_correlation(b.heard, first_core))
    print(f"own echoes {mine}, the other's {theirs}")
    assert min(mine) >= 0.8 and max(theirs) < 0.5, calls
    assert a.unexpected == [] and b.unexpected == []
