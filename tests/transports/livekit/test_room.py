"""``LiveKitRoom``, the agent half: the room a token grants, the stand-in caller the
agent subscribes to, and the edge's reports (whom it linked, who left) on a runtime's
session (a runtime that spawned no stages: only its session bookkeeping runs)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from livekit import api

from ipc.schema import (
    LiveKitTransport,
    ParticipantLeft,
    ParticipantLinked,
    SessionConfig,
    SessionStart,
    StageEvent,
    control_decoder,
    control_encoder,
)
from pipeline.agents.job import JobContext
from pipeline.agents.room import Room
from pipeline.supervisor.runtime import Runtime
from pipeline.supervisor.session import SessionSpec
from pipeline.transports.livekit.room import PENDING_IDENTITY, LiveKitRoom, token_room

URL = "ws://127.0.0.1:7880"


def _token(room: str, identity: str = "agent") -> str:
    grants = api.VideoGrants(room_join=True, room=room)
    return (api.AccessToken("devkey", "devsecret-devsecret-devsecret-00")
            .with_identity(identity).with_grants(grants).to_jwt())


def test_the_room_is_named_by_its_token_and_its_spec_crosses_the_wire(tmp_path: Path) -> None:
    token = _token("support-42")
    room = LiveKitRoom(URL, token, participant_identity="alice", out_dir=tmp_path / "rec")
    assert isinstance(room, Room)
    assert room.name == "support-42" and token_room("not.a-jwt") == ""
    assert room.transport() == LiveKitTransport(url=URL, token=token,
                                                participant_identity="alice", room="support-42")
    start = SessionStart(SessionConfig("s", 0, str(tmp_path), room.transport()))
    assert control_decoder.decode(control_encoder.encode(start)) == start
    assert not room.temporary_out_dir
    with pytest.raises(ValueError, match="url and a token"):
        LiveKitRoom(URL, "")


def test_without_out_dir_the_record_goes_to_a_fresh_temporary_directory() -> None:
    room = LiveKitRoom(URL, _token("r1"))
    try:
        assert room.temporary_out_dir and room.out_dir.is_dir()
        assert room.out_dir.name.startswith("voxpipe-livekit-r1-")
    finally:
        room.out_dir.rmdir()


def test_the_edges_reports_rename_the_stand_in_and_end_the_participant(tmp_path: Path) -> None:
    async def main() -> dict[str, Any]:
        rt = Runtime()
        room = LiveKitRoom(URL, _token("r2"), out_dir=tmp_path / "rec")
        seen: list[tuple[str, Any]] = []
        for event in ("participant_connected", "track_subscribed", "participant_disconnected"):
            room.on(event, lambda *args, _e=event: seen.append((_e, args[-1])))
        ctx = JobContext(room, rt)
        await ctx.connect()
        stand_in = await ctx.wait_for_participant()
        keys_before = list(room.remote_participants)
        for publication in stand_in.track_publications.values():
            publication.set_subscribed(True)  # as the agent does: the call starts
        session = rt.start_session(SessionSpec(room.transport(), out_dir=room.out_dir,
                                               model_url="ws://127.0.0.1:9"))
        room.bind_session(rt, session.id)

        def report(event: Any) -> None:
            rt._on_event(StageEvent(session.id, "edge", time.monotonic_ns(), event))

        report(ParticipantLinked("alice"))
        keys_linked = list(room.remote_participants)
        report(ParticipantLeft("alice", "participant 'alice' left"))
        result = {"keys": (keys_before, keys_linked, list(room.remote_participants)),
                  "stand_in": stand_in, "seen": seen}
        await room.disconnect()
        rt._ctx.term()
        return result

    r = asyncio.run(main())
    assert r["keys"] == ([PENDING_IDENTITY], ["alice"], [])
    assert r["stand_in"].identity == "alice"
    assert [(e, p is r["stand_in"]) for e, p in r["seen"] if e != "track_subscribed"] == [
        ("participant_connected", True), ("participant_disconnected", True)]
    assert [e for e, _ in r["seen"]].count("track_subscribed") == 1


def test_a_given_identity_is_the_stand_ins_from_the_start(tmp_path: Path) -> None:
    async def main() -> list[str]:
        rt = Runtime()
        room = LiveKitRoom(URL, _token("r3"), participant_identity="bob",
                           out_dir=tmp_path / "rec")
        await JobContext(room, rt).connect()
        rt._ctx.term()
        return list(room.remote_participants)

    assert asyncio.run(main()) == ["bob"]


def test_the_spec_rejects_a_malformed_arm() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"kind": "livekit", "url": URL}, LiveKitTransport)


def test_a_token_is_minted_from_the_api_key_and_secret_in_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jwt

    secret = "devsecret-devsecret-devsecret-00"
    monkeypatch.setenv("LIVEKIT_URL", "ws://127.0.0.1:7880")
    monkeypatch.setenv("LIVEKIT_API_KEY", "devkey")
    monkeypatch.setenv("LIVEKIT_API_SECRET", secret)
    room = LiveKitRoom.with_credentials("support-7", participant_identity="alice",
                                        out_dir=tmp_path)
    claims = jwt.decode(room.spec.token, secret, algorithms=["HS256"])
    assert (claims["iss"], claims["sub"]) == ("devkey", "voxpipe-agent")
    assert claims["video"]["room"] == "support-7" and claims["video"]["roomJoin"] is True
    assert (room.name, room.url, room.participant_identity) == (
        "support-7", "ws://127.0.0.1:7880", "alice")
    monkeypatch.delenv("LIVEKIT_API_SECRET")
    with pytest.raises(ValueError, match="LIVEKIT_API_SECRET not set"):
        LiveKitRoom.with_credentials("support-7")
