"""A ``JanusRoom`` call from the agent API (``run_agent`` on the default agent, the
offline echo model), against the real Janus: the agent joins the room, a plain-RTP
participant says the first turn and hears its echo in the mix, then the room is
destroyed — which ends the call by itself (the edge's input ends, the session
closes with its one turn recorded). ``voxpipe serve --janus`` rejoins after a kick."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from ipc.schema import AgentStoppedSpeaking
from pipeline.agents.default_agent import default_entrypoint
from pipeline.agents.runner import run_agent
from pipeline.plugins.offline.realtime import RealtimeModel
from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from pipeline.transports.janus.room import JanusRoom
from tests.janus.janus_server import JanusServer
from tests.janus.participant import AGENT, JOIN_TIMEOUT_S, RtpParticipant, create_room
from tests.janus.speech import RATE, echo_score, three_turns
from tests.pipeline.test_end_to_end import FAST_HEARTBEAT
from tests.serve.harness import ServeProcess

ROOM = 2468
REPLY_TIMEOUT_S = 60.0  # of the caller's line, while waiting for the echo to end


async def _until_listening(room: JanusRoom) -> None:
    """The agent has started (its model connected): what it hears now, it answers."""
    while room.local_participant.attributes.get("lk.agent.state") != "listening":
        await asyncio.sleep(0.1)


def _replies(rt: Runtime, room: JanusRoom) -> list[Any]:
    """The agent's finished replies of the room's session, as they come."""
    done: list[Any] = []
    session = rt.sessions[room.session_id or ""]
    session.on(lambda ev: done.append(ev.event)
               if isinstance(ev.event, AgentStoppedSpeaking) else None)
    return done


async def _agents(p: RtpParticipant) -> list[int]:
    return [int(x["id"]) for x in await p.participants() if x.get("display") == AGENT]


async def _until_agent(p: RtpParticipant, not_id: int | None = None) -> int:
    while True:
        ids = [i for i in await _agents(p) if i != not_id]
        if ids:
            return ids[0]
        await asyncio.sleep(0.2)


def test_a_janus_room_call_from_the_agent_api_ends_with_the_room(
        janus: JanusServer, model_url: str, tmp_path: Path) -> None:
    pcm, turns = three_turns()
    first = pcm[int(0.5 * RATE):int(3.0 * RATE)]  # the first turn

    async def main() -> tuple[Any, float]:
        await create_room(janus.url, ROOM)
        room = JanusRoom(janus.url, ROOM, tmp_path / "call")
        async with Runtime(RuntimeOptions(arbiter=FAST_HEARTBEAT)) as rt:
            call = asyncio.create_task(run_agent(
                default_entrypoint(RealtimeModel(engine="echo", url=model_url)), rt, room,
                stop=asyncio.Event()))
            async with RtpParticipant(janus.url, ROOM, "caller") as caller:
                await asyncio.wait_for(_until_agent(caller), JOIN_TIMEOUT_S)
                await asyncio.wait_for(_until_listening(room), JOIN_TIMEOUT_S)
                replies = _replies(rt, room)
                await caller.speak(first)
                while not replies and caller.sent_packets * 0.02 < REPLY_TIMEOUT_S:
                    await caller.silence(0.5)
                await caller.silence(0.5)
                echo = echo_score(caller.heard(), turns[0])
                print(f"caller: at most {caller.max_send_lag_s * 1000:.0f} ms late")
                await caller.bridge_request({"request": "destroy", "room": ROOM})
            return await asyncio.wait_for(call, 30), echo

    summary, echo = asyncio.run(main())
    assert echo >= 0.8
    assert summary is not None and summary.error is None, summary
    assert len(summary.turns) == 1, summary.turns
    assert summary.wav is not None and Path(summary.wav).parent == tmp_path / "call"


def test_serve_rejoins_the_room_after_a_kick(janus: JanusServer) -> None:
    async def kick_and_wait(caller: RtpParticipant) -> tuple[int, int]:
        first = await asyncio.wait_for(_until_agent(caller), JOIN_TIMEOUT_S)
        await caller.bridge_request({"request": "kick", "room": ROOM, "id": first})
        again = await asyncio.wait_for(_until_agent(caller, not_id=first), JOIN_TIMEOUT_S)
        return first, again

    async def observe(action: Any) -> Any:
        async with RtpParticipant(janus.url, ROOM, "caller") as caller:
            return await action(caller)

    asyncio.run(create_room(janus.url, ROOM))
    with ServeProcess("--janus", janus.url, "--room", str(ROOM)) as server:
        first, again = asyncio.run(observe(kick_and_wait))
        code = server.stop(signal.SIGTERM)
    assert first != again
    assert code == 0, server.output
    assert asyncio.run(observe(_agents)) == []  # SIGTERM: the agent left the room
