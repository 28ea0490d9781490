"""``voxpipe serve --janus URL --room ID`` against the real Janus: the agent (echo
engine) sits in an AudioBridge room as a plain-RTP participant; a plain-RTP test
participant speaks the three-turn call and receives the echo of each turn in the
room's mix (G.711 both ways, Janus's mixer and resampler in between), compared in
250 ms pieces, each free to slip a few packets: Janus's jitter buffer of the agent's
stream adds silence when the agent's packets come late (a loaded machine), which
delays the rest of a turn by whole packets. The agent does
not hear itself (the mix leaves its own voice out): the echo engine saw exactly the
participant's three turns and no reply was cut by a phantom barge-in. SIGTERM ends
the call, the agent leaves the room and the recording is finalized."""

from __future__ import annotations

import asyncio
import signal
import wave
from pathlib import Path
from typing import Any

from pipeline.record.event_log import read_event_log
from tests.janus.janus_server import JanusServer
from tests.janus.participant import RtpParticipant
from tests.janus.speech import RATE, three_turns
from tests.janus.test_room_harness import create_room
from tests.serve.harness import ServeProcess
from tests.web.analysis import find, piecewise_corr

ROOM = 1234
AGENT = "voxpipe"  # JanusTransport's default display name
JOIN_TIMEOUT_S = 60.0
LAST_REPLY_S = 6.0  # silence after the last turn: its echo comes back in it
SLIP_MS = 120.0  # how far Janus's jitter buffer may delay a piece of a reply


async def _wait_for_agent(p: RtpParticipant) -> None:
    while AGENT not in {x.get("display") for x in await p.participants()}:
        await asyncio.sleep(0.2)


async def _call(url: str) -> tuple[Any, list[float], list[str]]:
    pcm, turns = three_turns()
    async with RtpParticipant(url, ROOM, "caller") as caller:
        await asyncio.wait_for(_wait_for_agent(caller), JOIN_TIMEOUT_S)
        await caller.speak(pcm)
        await caller.silence(LAST_REPLY_S)
        heard = caller.heard()
        print(f"caller: sent {caller.sent_packets} packets (at most "
              f"{caller.max_send_lag_s * 1000:.0f} ms late), received {len(caller.mix.packets)}")
        in_room = [str(x.get("display")) for x in await caller.participants()]
    return heard, [_echo(heard, t) for t in turns], in_room


def _echo(heard: Any, turn: Any) -> float:
    """How well ``turn`` is found in ``heard``: waveform correlation in pieces."""
    whole = find(turn, heard, RATE)
    pieces = piecewise_corr(turn, heard, whole.at, RATE, slack_ms=SLIP_MS)
    print(f"turn at {whole.at / RATE:.2f} s: whole {whole.corr:.3f}, pieces {pieces:.3f}")
    return pieces


def _left(url: str) -> list[str]:
    async def run() -> list[str]:
        async with RtpParticipant(url, ROOM, "observer") as observer:
            return [str(x.get("display")) for x in await observer.participants()]
    return asyncio.run(run())


def test_the_agent_in_a_janus_room_echoes_each_turn_into_the_mix(
        janus: JanusServer, tmp_path: Path) -> None:
    asyncio.run(create_room(janus.url, ROOM))
    record_dir = tmp_path / "calls"
    with ServeProcess("--janus", janus.url, "--room", str(ROOM),
                      "--record", str(record_dir)) as server:
        heard, xcorr, in_room = asyncio.run(_call(janus.url))
        code = server.stop(signal.SIGTERM)
    print(f"echo of each turn in the mix: xcorr {[round(x, 3) for x in xcorr]}; "
          f"heard {len(heard) / RATE:.1f} s")
    assert sorted(in_room) == ["caller", AGENT]
    assert code == 0, server.output
    assert all(x >= 0.8 for x in xcorr), xcorr
    # SIGTERM: the agent left the room (the observer is alone in it).
    assert _left(janus.url) == ["observer"]
    records = sorted(p for p in record_dir.iterdir() if p.is_dir())
    assert len(records) == 1, records
    events = read_event_log(records[0] / "events.jsonl")
    assert events[-1]["type"] == "session_closed"
    with wave.open(str(records[0] / "conversation.wav")) as w:
        assert w.getnframes() > 0
    glitches = [e for e in events if e["type"] == "playout_glitch"]
    print(f"playout glitches: {len(glitches)}")
    # No feedback loop: the model heard the participant's three turns, not its replies.
    kinds = [e["type"] for e in events]
    assert kinds.count("user_speech_committed") == 3, kinds
    assert kinds.count("agent_started_speaking") == 3, kinds
    stops = [e for e in events if e["type"] == "agent_stopped_speaking"]
    assert [e.get("interrupted") for e in stops] == [False] * 3, stops
