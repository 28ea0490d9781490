"""Twilio media streams through a real ``voxpipe serve`` (offline echo engine), against a
simulated Twilio (``far_end.py``: Twilio's documented messages over a real websocket;
a simulation, as every test name here says).

One server for the module (``--token``: the stream connects to ``/twilio/TOKEN``),
one call at a time; each call's record is the one folder ``--record`` gains.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from scipy.signal import resample_poly
from websockets.frames import OP_TEXT, Frame

from pipeline.record.event_log import read_event_log
from tests.serve.harness import ServeProcess
from tests.transports.web.signal_match import best_correlation
from tests.twilio.far_end import RATE, TwilioFarEnd

ROOT = Path(__file__).resolve().parents[2]
THREE_TURNS = ROOT / "examples" / "audio" / "three_turns.wav"
LABELS = json.loads((ROOT / "examples" / "audio" / "three_turns.json").read_text())
TOKEN = "s3cret"
PAD_S = 0.3
# One playout frame at the output rate (24 kHz, 20 ms): the truncation's resolution.
FRAME_24K = 480
CALL_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, Path]]:
    record = tmp_path_factory.mktemp("twilio") / "calls"
    with ServeProcess("--token", TOKEN, "--record", str(record)) as srv:
        yield srv, record


def turn_8k(index: int) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.float64]]:
    """Turn ``index`` of the three-turn call at 8 kHz: with room tone either side (to
    say), and the turn alone as floats (to find in what comes back)."""
    turn = LABELS["turns"][index]
    with wave.open(str(THREE_TURNS)) as src:
        rate = src.getframerate()
        src.setpos(int((turn["onset_s"] - PAD_S) * rate))
        pcm = np.frombuffer(src.readframes(int((turn["duration_s"] + 2 * PAD_S) * rate)), "<i2")
    x8 = resample_poly(pcm.astype(np.float64), RATE, rate)
    said = np.clip(np.round(x8), -32768, 32767).astype(np.int16)
    core = said[int(PAD_S * RATE) : int((PAD_S + turn["duration_s"]) * RATE)]
    return said, core.astype(np.float64) / 32768.0


def silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def new_record(record: Path, before: set[Path]) -> Path:
    found = set(record.glob("tw-*")) - before
    assert len(found) == 1, sorted(record.glob("*"))
    return found.pop()


def wait_closed(folder: Path, timeout_s: float = CALL_TIMEOUT_S) -> list[dict[str, Any]]:
    """The call's events once its session closed (recording finalized)."""
    deadline = time.monotonic() + timeout_s
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        path = folder / "events.jsonl"
        events = read_event_log(path) if path.exists() else []
        if events and events[-1]["type"] == "session_closed":
            return events
        time.sleep(0.1)
    raise AssertionError(f"the session did not close: {[e['type'] for e in events][-10:]}")


def turns(events: list[dict[str, Any]]) -> list[str]:
    """The call's speech and glitch events, in short (for a failure's message)."""
    kinds = ("user_started_speaking", "user_stopped_speaking", "agent_started_speaking",
             "agent_stopped_speaking", "playout_glitch")
    return [f"{e['t_ms']:.0f}:{e['type']}{'(cut)' if e.get('interrupted') else ''}"
            for e in events if e["type"] in kinds]


def edge_counters(srv: ServeProcess, until: str, timeout_s: float = 10.0) -> dict[str, float]:
    """The edge's ``conn.*`` counters from ``/metrics``, once ``until`` shows (a call's
    connection counters are added when the edge closes it)."""
    deadline = time.monotonic() + timeout_s
    prefix = "voxpipe_stage_events_total{counter=conn."
    while True:
        found = {k[len(prefix):].split(",")[0]: v for k, v in srv.metrics().items()
                 if k.startswith(prefix) and "stage=edge" in k}
        if until in found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


async def say_and_hear(fe: TwilioFarEnd, said: npt.NDArray[np.int16], reply_samples: int) -> None:
    """Say the turn, then room tone until ``reply_samples`` of the reply came back."""
    await fe.say(said)
    hearing = asyncio.create_task(fe.wait_for(reply_samples, CALL_TIMEOUT_S))
    while not hearing.done():
        await fe.say(silence(0.2))
    await hearing


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


def test_twilio_simulation_refusals(server: tuple[ServeProcess, Path]) -> None:
    srv, _ = server

    def status(path: str, headers: dict[str, str]) -> int:
        req = urllib.request.Request(srv.url + path, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return int(res.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    assert status("/twilio", upgrade) == 401  # no token
    assert status("/twilio/wrong", upgrade) == 401
    assert status(f"/twilio/{TOKEN}", {}) == 400  # not a websocket


def test_twilio_simulation_serve_writes_nothing_on_a_handed_over_socket(
        server: tuple[ServeProcess, Path]) -> None:
    """Byte for byte, what the stream's socket carries is the edge's: the 101 answer,
    then (no audio was said) only the edge's close frame, then the end of the
    connection; not one byte of serve's own HTTP response. This client does not wait
    for the 101 before its messages: what serve read of them goes to the edge too."""
    srv, record = server
    before = set(record.glob("tw-*"))
    host, port = srv.url.removeprefix("http://").split(":")
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    with socket.create_connection((host, int(port)), timeout=CALL_TIMEOUT_S) as sock:
        sock.sendall(
            f"GET /twilio/{TOKEN} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        for msg in ({"event": "connected", "protocol": "Call", "version": "1.0.0"},
                    {"event": "start", "streamSid": "MZ1", "start": {"streamSid": "MZ1"}},
                    {"event": "stop", "streamSid": "MZ1"}):
            sock.sendall(Frame(OP_TEXT, json.dumps(msg).encode()).serialize(
                mask=True, extensions=[]))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), received
    assert rest == b"\x88\x02\x03\xe8", rest  # a close frame, code 1000, and nothing else
    wait_closed(new_record(record, before))


def test_twilio_simulation_a_vanished_far_end_ends_the_call(
        server: tuple[ServeProcess, Path]) -> None:
    """No ``stop``, no close frame: the TCP connection just goes. The call ends and its
    recording is finalized."""
    srv, record = server
    before = set(record.glob("tw-*"))
    said, _ = turn_8k(0)

    async def call() -> None:
        fe = TwilioFarEnd(srv.url)
        await fe.connect(f"/twilio/{TOKEN}")
        await fe.start()
        await fe.say(said)
        await fe.say(silence(0.5))
        assert fe.ws is not None
        fe.ws.transport.abort()
        await fe.close()

    asyncio.run(call())
    folder = new_record(record, before)
    events = wait_closed(folder)
    assert events[-1]["type"] == "session_closed"
    with wave.open(str(folder / "conversation.wav")) as w:
        assert w.getnchannels() == 2
        user = np.frombuffer(w.readframes(w.getnframes()), "<i2")[0::2]
    assert np.abs(user).max() > 1000  # what the caller said before vanishing is recorded


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


def test_twilio_simulation_sigterm_ends_a_live_stream_and_finalizes_it(tmp_path: Path) -> None:
    record = tmp_path / "calls"
    said, _ = turn_8k(0)
    with ServeProcess("--record", str(record)) as srv:
        async def call() -> tuple[TwilioFarEnd, int]:
            fe = TwilioFarEnd(srv.url)
            await fe.connect()
            await fe.start()
            await fe.say(said[: RATE // 2])
            code = await asyncio.to_thread(srv.stop)
            assert fe.ws is not None
            await asyncio.wait_for(fe.ws.wait_closed(), CALL_TIMEOUT_S)
            await fe.close()
            return fe, code

        _, code = asyncio.run(call())
    assert code == 0, srv.output
    (folder,) = record.glob("tw-*")
    events = read_event_log(folder / "events.jsonl")
    assert events[-1]["type"] == "session_closed"
    assert "Traceback" not in srv.output, srv.output
