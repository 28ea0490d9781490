"""The agent takes any room: the loopback transport's room (a test peer's address, no
file) runs the same entrypoint road as a file room, without processes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ipc.schema import (
    LoopbackTransport,
    ModelConnected,
    ParticipantAttributes,
    SessionEvent,
    StageEvent,
)
from pipeline.agents.job import JobContext
from pipeline.agents.multimodal import MultimodalAgent
from pipeline.agents.room import ATTRIBUTE_AGENT_STATE
from pipeline.plugins.offline import realtime as offline
from tests.transports.loopback.room import LoopbackRoom

ADDRESS = "127.0.0.1:45999"


class _Session:
    def __init__(self, sid: str) -> None:
        self.id = sid
        self.listeners: list[Any] = []

    def on(self, listener: Any) -> None:
        self.listeners.append(listener)

    def emit(self, event: SessionEvent) -> None:
        for listener in list(self.listeners):
            listener(StageEvent(self.id, "model", 0, event))


class _Runtime:
    """Records the session specs the agent asks for and what goes on the timeline."""

    def __init__(self) -> None:
        self.specs: list[Any] = []
        self.sessions: dict[str, _Session] = {}
        self.notes: list[SessionEvent] = []

    def start_session(self, spec: Any) -> _Session:
        self.specs.append(spec)
        session = self.sessions[f"s{len(self.specs)}"] = _Session(f"s{len(self.specs)}")
        return session

    def note(self, sid: str, event: SessionEvent) -> None:
        self.notes.append(event)

    def send_model_commands(self, sid: str, commands: list[Any]) -> None:
        pass


def _model() -> offline.RealtimeModel:
    return offline.RealtimeModel(url="ws://127.0.0.1:9/v1")  # a fixed URL: no server starts


class _TransportRecorder(MultimodalAgent):
    """Stops where the real agent builds the session spec: records the room's transport."""

    transports: list[Any]

    async def _start_call(self, track: Any) -> None:
        assert self._room is not None
        self.transports.append(self._room.transport())


async def _joined(tmp_path: Path) -> tuple[JobContext, _Runtime, Any]:
    runtime = _Runtime()
    ctx = JobContext(LoopbackRoom(ADDRESS, tmp_path), runtime)  # type: ignore[arg-type]
    await ctx.connect()
    participant = await ctx.wait_for_participant()
    return ctx, runtime, participant


def test_agent_starts_the_call_on_the_loopback_rooms_transport(tmp_path: Path) -> None:
    async def main() -> None:
        ctx, runtime, participant = await _joined(tmp_path)
        assert participant.identity == "caller"
        agent = _TransportRecorder(model=_model())
        agent.transports = []
        agent.start(ctx.room, participant)
        await asyncio.sleep(0)
        assert agent.transports == [LoopbackTransport(ADDRESS)]
        publication = next(iter(participant.track_publications.values()))
        assert publication.subscribed and publication.track is not None
        # The agent's state waits in the room until a session carries the call.
        assert runtime.notes == []
        ctx.room.bind_session(runtime, "s1")  # type: ignore[arg-type]
        assert runtime.notes == [
            ParticipantAttributes({ATTRIBUTE_AGENT_STATE: "initializing"})]

    asyncio.run(main())


def test_a_room_that_is_not_a_room_is_refused_by_name() -> None:
    async def main() -> None:
        agent = MultimodalAgent(model=_model())
        with pytest.raises(TypeError, match=r"pipeline\.agents\.room\.Room.*str"):
            agent.start("room-1")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"pipeline\.agents\.room\.Room.*object"):
            JobContext(object(), _Runtime())  # type: ignore[arg-type]

    asyncio.run(main())


def test_agent_builds_the_session_spec_on_the_loopback_transport(tmp_path: Path) -> None:
    async def main() -> None:
        ctx, runtime, participant = await _joined(tmp_path)
        agent = MultimodalAgent(model=_model())
        agent.start(ctx.room, participant)
        for _ in range(20):
            await asyncio.sleep(0)
        assert [spec.transport for spec in runtime.specs] == [LoopbackTransport(ADDRESS)]
        assert runtime.specs[0].out_dir == tmp_path and runtime.specs[0].agent
        assert ctx.room.session_id == "s1"
        assert await asyncio.wait_for(ctx.session(), 1) is runtime.sessions["s1"]
        runtime.sessions["s1"].emit(ModelConnected("", link="1"))
        await asyncio.sleep(0)
        assert agent.state == "listening"
        await agent.aclose()

    asyncio.run(main())
