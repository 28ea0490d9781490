"""voxpipe's LiveKit worker against the fake dispatch server (proven faithful with
livekit-agents 0.12): registration, offers through ``request_fnc``, jobs run as
voxpipe sessions, job and worker status, termination, load, reconnects, JSON."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from livekit.protocol import agent

from pipeline.agents.dispatch import link
from pipeline.agents.dispatch.link import CredentialsRejected, ServerUnreachable
from pipeline.agents.dispatch.request import JobRequest
from pipeline.agents.job import JobContext
from pipeline.agents.job_process import JobProcess
from pipeline.agents.multimodal import MultimodalAgent
from pipeline.plugins.offline import realtime as offline
from tests.livekit.fake_server import FakeDispatchServer
from tests.livekit.worker_harness import Workers, options


def _ended(server: FakeDispatchServer, job_id: str) -> list[int]:
    """The job's statuses, once one of them ends it."""
    server.wait(lambda: {agent.JS_SUCCESS, agent.JS_FAILED} & set(
        server.dispatches[job_id].statuses), 60, f"job {job_id} to end")
    return server.statuses(job_id)


@pytest.mark.timeout(180)
def test_a_job_runs_as_a_voxpipe_session(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def prewarm(proc: JobProcess) -> None:
        proc.userdata["warm"] = "yes"

    async def entrypoint(ctx: JobContext) -> None:
        seen.update(warm=ctx.proc.userdata.get("warm"), job=ctx.job.id, room=ctx.job.room.name)
        await ctx.connect()
        participant = await ctx.wait_for_participant()
        model = offline.RealtimeModel(engine="echo")
        agent_ = MultimodalAgent(model=model)
        agent_.start(ctx.room, participant)
        ctx.add_shutdown_callback(agent_.aclose)
        ctx.add_shutdown_callback(model.aclose)

    with FakeDispatchServer() as server, Workers(
            tmp_path, options(server, entrypoint_fnc=entrypoint, prewarm_fnc=prewarm,
                              agent_name="vox")) as workers:
        [worker] = server.wait(server.live_workers, 60, "registration")
        reg = worker.registration
        assert (reg.type, reg.agent_name) == (agent.JT_ROOM, "vox")
        assert reg.allowed_permissions.agent and reg.allowed_permissions.can_publish
        assert reg.version.startswith("voxpipe")
        done = server.dispatch("call-1", agent_name="vox")
        assert (done.worker, done.identity) == (worker.id, f"agent-{done.job.id}")
        assert _ended(server, done.job.id) == [agent.JS_RUNNING, agent.JS_SUCCESS]
        server.wait(lambda: worker.updates, 30, "a status update")
        assert all(0.0 <= u.load <= 1.0 for u in worker.updates)
    assert seen == {"warm": "yes", "job": done.job.id, "room": "call-1"}
    [(url, token, identity)] = workers.rooms.made
    assert (url, identity) == (server.url, None)  # a room job links the first caller
    claims = jwt.decode(token, server.api_secret, algorithms=["HS256"])
    assert (claims["sub"], claims["video"]["room"]) == (done.identity, "call-1")
    events = [json.loads(line)["type"] for line in
              (tmp_path / "job-1" / "events.jsonl").read_text().splitlines()]
    assert "session_closed" in events or "closed" in " ".join(events), events


def test_request_fnc_accepts_rejects_or_fails(tmp_path: Path) -> None:
    async def request_fnc(req: JobRequest) -> None:
        kind = req.room.name
        if kind == "accept":
            await req.accept(identity="ava", name="Ava", metadata="m", attributes={"a": "1"})
        elif kind == "reject":
            await req.reject()
        elif kind == "raise":
            raise ValueError("no")
        # "silent": neither: rejected for it

    with FakeDispatchServer() as server, Workers(
            tmp_path, options(server, request_fnc=request_fnc)):
        [worker] = server.wait(server.live_workers, 60, "registration")
        for room in ("reject", "raise", "silent"):
            done = server.dispatch(room)
            assert (done.asked, done.worker, done.error) == (
                [worker.id], None, "no workers with sufficient capacity"), room
        done = server.dispatch("accept")
        assert (done.worker, done.identity) == (worker.id, "ava")
        claims = jwt.decode(done.token, server.api_secret, algorithms=["HS256"])
        assert (claims["name"], claims["metadata"], claims["attributes"]["a"]) == ("Ava", "m", "1")
        assert _ended(server, done.job.id) == [agent.JS_RUNNING, agent.JS_SUCCESS]


def test_failing_entrypoint_reports_failed_with_the_error(tmp_path: Path) -> None:
    async def entrypoint(ctx: JobContext) -> None:
        raise ValueError("the agent broke")

    with FakeDispatchServer() as server, Workers(
            tmp_path, options(server, entrypoint_fnc=entrypoint)):
        server.wait(server.live_workers, 60, "registration")
        done = server.dispatch("room")
        assert _ended(server, done.job.id) == [agent.JS_RUNNING, agent.JS_FAILED]
        assert "ValueError: the agent broke" in server.dispatches[done.job.id].errors[-1]
        # The worker goes on taking jobs.
        again = server.dispatch("room-2")
        assert again.worker is not None


def test_termination_ends_a_running_job(tmp_path: Path) -> None:
    joined = asyncio.Event()

    async def entrypoint(ctx: JobContext) -> None:
        await ctx.connect()  # joins; nothing starts a call: only a termination ends it
        joined.set()

    with FakeDispatchServer() as server, Workers(
            tmp_path, options(server, entrypoint_fnc=entrypoint)) as workers:
        server.wait(server.live_workers, 60, "registration")
        done = server.dispatch("room")
        server.wait(lambda: server.dispatches[done.job.id].statuses, 30, "running")
        server.wait(lambda: workers.rooms.rooms and workers.rooms.rooms[0].isconnected(),
                    30, "the job to join its room")
        server.terminate(done.job.id)
        assert _ended(server, done.job.id) == [agent.JS_RUNNING, agent.JS_SUCCESS]
        assert not workers.rooms.rooms[0].isconnected()


def test_a_worker_above_its_threshold_reports_full_and_gets_no_job(tmp_path: Path) -> None:
    with FakeDispatchServer() as server, Workers(
            tmp_path, options(server, load_fnc=lambda: 0.9, load_threshold=0.75)):
        [worker] = server.wait(server.live_workers, 60, "registration")
        server.wait(lambda: worker.updates, 30, "a status update")
        assert (worker.status, worker.load) == (agent.WS_FULL, pytest.approx(0.9))
        done = server.dispatch("room")
        assert (done.asked, done.error) == ([], "no workers with sufficient capacity")


def test_the_worker_reconnects_when_the_server_drops_it(tmp_path: Path) -> None:
    with FakeDispatchServer() as server, Workers(tmp_path, options(server)):
        [first] = server.wait(server.live_workers, 60, "registration")
        server.drop_connections()
        [second] = server.wait(server.live_workers, 60, "registration again")
        assert second.id != first.id and first.closed
        done = server.dispatch("room")
        assert done.worker == second.id
        assert _ended(server, done.job.id) == [agent.JS_RUNNING, agent.JS_SUCCESS]


def test_pings_are_answered_and_a_silent_server_is_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker pings every PING_INTERVAL_S; a server whose pongs stop for
    PONG_TIMEOUT_S is a dead connection: the worker connects again."""
    monkeypatch.setattr(link, "PING_INTERVAL_S", 0.2)
    monkeypatch.setattr(link, "PONG_TIMEOUT_S", 1.0)
    with FakeDispatchServer() as server, Workers(tmp_path, options(server)):
        [worker] = server.wait(server.live_workers, 60, "registration")
        server.wait(lambda: worker.pings >= 3, 30, "pings")
        assert not worker.closed  # answered: the connection stays
        server.answer_pings = False
        [again] = server.wait(lambda: [w for w in server.live_workers() if w is not worker],
                              60, "a new registration")
        assert worker.closed and again.registration.agent_name == ""


def test_unknown_and_unreadable_server_frames_are_dropped(tmp_path: Path) -> None:
    with FakeDispatchServer() as server, Workers(tmp_path, options(server)):
        [worker] = server.wait(server.live_workers, 60, "registration")
        go_away = agent.ServerMessage()
        go_away.go_away.SetInParent()
        for frame in (b"\xff\xfe garbage", "{not json", go_away.SerializeToString()):
            server.send_raw(worker.id, frame)
        done = server.dispatch("room")  # the same connection goes on
        assert done.worker == worker.id and not worker.closed
        assert _ended(server, done.job.id) == [agent.JS_RUNNING, agent.JS_SUCCESS]


def test_an_unreachable_server_gives_up_after_max_retry(tmp_path: Path) -> None:
    with FakeDispatchServer() as server:
        opts = options(server, max_retry=2)
    # The server is gone: its port refuses connections.
    with Workers(tmp_path, opts) as workers:
        [error] = workers.ended(60)
    # The first attempt and max_retry retries (livekit-agents counts the same way).
    assert isinstance(error, ServerUnreachable) and "after 3 attempts" in str(error)


def test_a_token_without_the_agent_grant_is_rejected(tmp_path: Path) -> None:
    with FakeDispatchServer() as server:
        opts = options(server)
        opts.api_secret = "not-the-secret-" + "y" * 32
        with Workers(tmp_path, opts) as workers:
            [error] = workers.ended(60)
        assert isinstance(error, CredentialsRejected) and "HTTP 401" in str(error)
        assert server.rejected_auth == 1 and server.workers == {}


def test_json_text_frames_when_the_server_speaks_json(tmp_path: Path) -> None:
    with FakeDispatchServer(json_frames=True) as server, Workers(tmp_path, options(server)):
        [worker] = server.wait(server.live_workers, 60, "registration")
        done = server.dispatch("room")
        assert _ended(server, done.job.id) == [agent.JS_RUNNING, agent.JS_SUCCESS]
        # Registration is binary (the server's encoding is unknown until it speaks);
        # every answer after the server's first JSON frame is JSON.
        assert worker.frames[0] == "binary" and set(worker.frames[1:]) == {"text"}


def _constant(value: float) -> Any:
    return lambda: value


def test_jobs_go_by_load_and_never_to_a_full_worker(tmp_path: Path) -> None:
    loads = {"light": 0.1, "heavy": 0.6, "full": 0.8}
    with FakeDispatchServer(seed=1) as server:
        opts = [options(server, load_fnc=_constant(v), load_threshold=0.75)
                for v in loads.values()]
        with Workers(tmp_path, *opts):
            server.wait(lambda: len(server.live_workers()) == 3
                        and all(w.updates for w in server.live_workers()), 60, "3 workers")
            by_load = {round(w.load, 1): w for w in server.live_workers()}
            light, heavy, full = (by_load[v] for v in loads.values())
            assert (light.status, heavy.status, full.status) == (
                agent.WS_AVAILABLE, agent.WS_AVAILABLE, agent.WS_FULL)
            taken = [server.dispatch(f"room-{i}").worker for i in range(12)]
        assert full.id not in taken and None not in taken
        assert taken.count(light.id) > taken.count(heavy.id) > 0


def test_connect_mode_asks_for_a_job_in_its_room(tmp_path: Path) -> None:
    """``connect --room NAME``: once registered, the worker asks the server for a job in
    that room (``SimulateJobRequest``, as livekit-agents' connect does) and runs it."""
    seen: list[tuple[str, str]] = []

    async def entrypoint(ctx: JobContext) -> None:
        seen.append((ctx.job.room.name, ctx.job.participant.identity))

    with FakeDispatchServer() as server, Workers(
            tmp_path, options(server, entrypoint_fnc=entrypoint), mode="connect",
            room="my-room", participant_identity="alice") as workers:
        [worker] = server.wait(server.live_workers, 60, "registration")
        job = server.wait(lambda: list(server.dispatches.values()), 30, "the simulated job")[0]
        assert _ended(server, job.job.id) == [agent.JS_RUNNING, agent.JS_SUCCESS]
        assert job.worker == worker.id
    assert seen == [("my-room", "alice")]
    assert workers.rooms.made[0][2] == "alice"  # the room links that participant
