"""The test harness against the real Janus: two plain-RTP participants in an
AudioBridge room hear each other through the mix (G.711 both ways, Janus's mixer in
between) and not themselves (mix-minus) — what the agent's test relies on."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from pipeline.transports.janus.api import JanusError, JanusSession
from pipeline.transports.janus.audiobridge import AudioBridge
from tests.janus.janus_server import JanusServer
from tests.janus.participant import RtpParticipant, create_room
from tests.janus.speech import RATE, three_turns
from tests.transports.web.signal_match import best_correlation, rms_dbfs

ROOM = 4321


async def _two_participants(url: str) -> tuple[float, float, int]:
    await create_room(url, ROOM)
    pcm, turns = three_turns()
    first = pcm[int(0.8 * RATE):int(2.8 * RATE)]
    async with RtpParticipant(url, ROOM, "alice") as alice, \
            RtpParticipant(url, ROOM, "bob") as bob:
        names = {p["display"] for p in await alice.participants()}
        assert names == {"alice", "bob"}
        await asyncio.gather(alice.speak(first), bob.silence(len(first) / RATE + 1.0))
        await asyncio.sleep(0.5)
        heard_by_bob, heard_by_alice = bob.heard(), alice.heard()
        print(f"packets: alice got {len(alice.mix.packets)}, bob got {len(bob.mix.packets)};"
              f" sources {alice.mix.sources} {bob.mix.sources}")
        # Janus sends the mix from the address its join answer named (symmetric RTP).
        assert bob.join is not None and bob.mix.sources == {(bob.join.host, bob.join.port)}
    return (best_correlation(heard_by_bob, turns[0]), rms_dbfs(heard_by_alice),
            len(bob.mix.packets))


def test_participants_hear_each_other_but_not_themselves(janus: JanusServer) -> None:
    xcorr, alice_level, bob_packets = asyncio.run(_two_participants(janus.url))
    print(f"bob hears alice: xcorr {xcorr:.3f}; alice hears herself at {alice_level:.1f} dBFS")
    assert bob_packets > 0
    assert xcorr >= 0.8
    assert alice_level < -60.0


async def _join_refused(url: str) -> str:
    async with aiohttp.ClientSession() as http:
        session = JanusSession(url, http)
        await session.open()
        try:
            bridge = await AudioBridge.attach(session)
            with pytest.raises(JanusError) as refused:
                await bridge.join_rtp(999, "127.0.0.1", 9, display="nobody")
            return str(refused.value)
        finally:
            await session.destroy()


def test_a_join_of_a_missing_room_is_a_clear_error(janus: JanusServer) -> None:
    message = asyncio.run(_join_refused(janus.url))
    assert "join" in message and "error 485" in message, message
