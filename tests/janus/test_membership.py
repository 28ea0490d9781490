"""The edge's membership of a room against the real Janus: joining as a plain-RTP
participant (Janus's RTP address learned), leaving (the room is empty again, the
Janus session gone), and each way the room can end it: destroyed, kicked, Janus
stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from ipc.schema import JanusTransport
from pipeline.transports.janus.api import POLL_TIMEOUT_S, JanusSession
from pipeline.transports.janus.audiobridge import AudioBridge
from pipeline.transports.janus.membership import RoomMembership
from tests.janus.janus_server import JanusServer

ROOM = 77
RTP_PORT = 9  # where Janus sends the mix: nobody listens, nothing is read here


class Observer:
    """Another session on the same Janus: creates the room, lists, kicks, destroys."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def __aenter__(self) -> Observer:
        self.http = aiohttp.ClientSession()
        self.session = JanusSession(self.url, self.http)
        await self.session.open()
        self.bridge = await AudioBridge.attach(self.session)
        await self.bridge.create_room(ROOM)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.destroy()
        await self.http.close()

    async def request(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.bridge.handle.request({"room": ROOM, **body})

    async def participants(self) -> list[dict[str, Any]]:
        return list((await self.request({"request": "listparticipants"}))["participants"])


async def _member(url: str, then: Callable[[Observer, RoomMembership], Awaitable[None]],
                  end_within_s: float = 15.0,
                  ) -> tuple[list[str], RoomMembership, list[dict[str, Any]]]:
    ended: list[str] = []
    gone = asyncio.Event()

    def on_end(reason: str) -> None:
        ended.append(reason)
        gone.set()

    async with Observer(url) as observer:
        spec = JanusTransport(url=url, room=ROOM, display="voxpipe-agent")
        member = RoomMembership(spec, "s1", on_end)
        joined = await member.join("127.0.0.1", RTP_PORT)
        assert (joined.host, joined.payload_type) == ("127.0.0.1", 0) and joined.port > 0
        seen = await observer.participants()
        await then(observer, member)
        if not ended and member.ended is None:
            await asyncio.wait_for(gone.wait(), end_within_s)
        await member.leave()
    return ended, member, seen


def test_join_lists_the_agent_and_leave_empties_the_room(janus: JanusServer) -> None:
    after: list[list[dict[str, Any]]] = []

    async def leave(observer: Observer, member: RoomMembership) -> None:
        await member.leave()
        after.append(await observer.participants())

    ended, member, seen = asyncio.run(_member(janus.url, leave))
    assert [(p["display"], p["id"]) for p in seen] == [
        ("voxpipe-agent", member.joined.participant_id if member.joined else None)]
    assert after == [[]]
    assert ended == [] and member.ended == "left" and member.hangup_errors == 0


def test_a_destroyed_room_ends_the_membership(janus: JanusServer) -> None:
    async def destroy(observer: Observer, member: RoomMembership) -> None:
        await observer.request({"request": "destroy"})

    ended, _, _ = asyncio.run(_member(janus.url, destroy))
    assert ended == ["the room was destroyed"]


def test_a_kick_ends_the_membership(janus: JanusServer) -> None:
    async def kick(observer: Observer, member: RoomMembership) -> None:
        assert member.joined is not None
        await observer.request({"request": "kick", "id": member.joined.participant_id})

    ended, _, _ = asyncio.run(_member(janus.url, kick))
    assert ended == ["kicked from the room"]


def test_janus_gone_ends_the_membership(janus: JanusServer) -> None:
    async def run() -> tuple[list[str], RoomMembership]:
        ended: list[str] = []
        gone = asyncio.Event()
        async with aiohttp.ClientSession() as http:
            creator = JanusSession(janus.url, http)
            await creator.open()
            await (await AudioBridge.attach(creator)).create_room(ROOM)
            spec = JanusTransport(url=janus.url, room=ROOM)
            member = RoomMembership(spec, "s1", lambda r: (ended.append(r), gone.set()))
            await member.join("127.0.0.1", RTP_PORT)
            await asyncio.to_thread(janus.stop)
            await asyncio.wait_for(gone.wait(), 30)
            await member.leave()
        return ended, member

    ended, member = asyncio.run(run())
    assert len(ended) == 1 and ended[0].startswith("janus unreachable"), ended
    assert member.counters()["janus_poll_failures"] >= 1


def test_a_session_janus_forgot_ends_the_membership(janus: JanusServer) -> None:
    """Someone destroyed the agent's Janus session (error 458 on the next poll)."""
    async def forget(observer: Observer, member: RoomMembership) -> None:
        assert member._janus is not None
        sid = member._janus.id
        async with observer.http.post(f"{janus.url}/{sid}",
                                      json={"janus": "destroy", "transaction": "x"}) as r:
            assert (await r.json(content_type=None))["janus"] == "success"

    # Janus answers the poll it holds at its 30 s keepalive; the next one learns it.
    ended, member, _ = asyncio.run(_member(janus.url, forget, end_within_s=POLL_TIMEOUT_S))
    assert ended == ["janus forgot the session"], ended
    counters = member.counters()  # one answer ended it: no poll retried against a 404
    assert counters["janus_poll_failures"] == 0, counters
