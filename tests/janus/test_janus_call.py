"""``voxpipe serve --janus URL --room ID`` against the real Janus: the agent (echo
engine) sits in an AudioBridge room as a plain-RTP participant; a plain-RTP test
participant speaks the three-turn call and receives the echo of each turn in the
room's mix (G.711 both ways, Janus's mixer and resampler in between), compared in
250 ms pieces, each free to slip a few packets: Janus's jitter buffer of the agent's
stream adds silence when the agent's packets come late (a loaded machine), which
delays the rest of a turn by whole packets. The agent does not hear itself (the mix
leaves its own voice out): the echo engine saw exactly the participant's three turns
and no reply was cut by a phantom barge-in. SIGTERM ends the call, the agent leaves
the room and the recording is finalized. One call serves the module's tests."""

from __future__ import annotations

import asyncio
import signal
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipeline.record.event_log import read_event_log
from tests.debian import find_or_install_janus
from tests.janus.janus_server import JanusServer
from tests.janus.participant import AGENT, JOIN_TIMEOUT_S, RtpParticipant, create_room
from tests.janus.speech import echo_score, three_turns
from tests.serve.harness import ServeProcess

ROOM = 1234
LAST_REPLY_S = 6.0  # silence after the last turn: its echo comes back in it


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
    return heard, [echo_score(heard, t) for t in turns], in_room


def _left(url: str) -> list[str]:
    async def run() -> list[str]:
        async with RtpParticipant(url, ROOM, "observer") as observer:
            return [str(x.get("display")) for x in await observer.participants()]
    return asyncio.run(run())


@dataclass(frozen=True)
class RoomCall:
    """One serve run with the agent in the room and a participant's three turns."""

    echo: list[float]  # per turn, what the participant received (pieces' correlation)
    in_room: list[str]  # who was in the room during the call
    exit_code: int
    output: str
    left_after: list[str]  # who was in the room after SIGTERM (an observer only)
    record: Path
    events: list[dict[str, Any]]


@pytest.fixture(scope="module")
def room_call(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomCall]:
    """The call, run once for this module's tests; Janus stopped at the end."""
    tmp = tmp_path_factory.mktemp("janus-call")
    janus = JanusServer(find_or_install_janus(), tmp / "janus")
    try:
        asyncio.run(create_room(janus.url, ROOM))
        record_dir = tmp / "calls"
        with ServeProcess("--janus", janus.url, "--room", str(ROOM),
                          "--record", str(record_dir)) as server:
            _, echo, in_room = asyncio.run(_call(janus.url))
            code = server.stop(signal.SIGTERM)
        records = sorted(p for p in record_dir.iterdir() if p.is_dir())
        assert len(records) == 1, records
        yield RoomCall(echo, in_room, code, server.output, _left(janus.url), records[0],
                       read_event_log(records[0] / "events.jsonl"))
    finally:
        janus.stop()


def test_the_participant_hears_the_echo_of_each_turn_in_the_mix(room_call: RoomCall) -> None:
    print(f"echo of each turn in the mix: {[round(x, 3) for x in room_call.echo]}")
    assert sorted(room_call.in_room) == ["caller", AGENT]
    assert len(room_call.echo) == 3 and all(x >= 0.8 for x in room_call.echo), room_call.echo


def test_the_agent_does_not_hear_itself(room_call: RoomCall) -> None:
    """No feedback loop: the model heard the participant's three turns, never its own
    replies (which would be more user turns, or barge-ins cutting the replies)."""
    kinds = [e["type"] for e in room_call.events]
    assert kinds.count("user_started_speaking") == 3, kinds
    assert kinds.count("user_speech_committed") == 3, kinds
    assert kinds.count("agent_started_speaking") == 3, kinds
    stops = [e for e in room_call.events if e["type"] == "agent_stopped_speaking"]
    assert [e.get("interrupted") for e in stops] == [False] * 3, stops


def test_sigterm_leaves_the_room_and_finalizes_the_recording(room_call: RoomCall) -> None:
    assert room_call.exit_code == 0, room_call.output
    assert room_call.left_after == ["observer"]
    assert room_call.events[-1]["type"] == "session_closed"
    with wave.open(str(room_call.record / "conversation.wav")) as w:
        assert w.getnchannels() == 2 and w.getnframes() > 0
