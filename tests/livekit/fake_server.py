"""A LiveKit server's agent-dispatch half, faithful to livekit-server's own code, on
``livekit-protocol``'s classes: the edge we cannot reach here (no LiveKit server
installs on this machine). Proven faithful by driving an unmodified livekit-agents
0.12 worker through it (``test_fake_is_faithful.py``).

What it does, each as livekit-server does it (``pkg/service/agentservice.go``,
``pkg/agent/worker.go``, ``pkg/service/wsprotocol.go``):
- ``/agent`` upgrades only with a JWT (HS256, issuer = the API key) whose video
  grant has ``agent: true``; else HTTP 401.
- The first worker message must be ``register`` (within 10 s): answered with a
  ``RegisterWorkerResponse`` (a fresh ``AW_`` worker id, the server info).
- Frames: binary protobuf, or protobuf JSON in text frames; the server answers in
  the encoding it was last spoken to (``json_frames=True``: always JSON).
- ``dispatch(room)``: a job goes to a worker chosen at random weighted by
  ``max(0, 1 - load)`` among those of its agent name and job type that report
  ``WS_AVAILABLE`` (``selectWorkerWeightedByLoad``); the worker is asked
  (``AvailabilityRequest``, 10 s), a worker that declines is skipped and another
  chosen; an acceptance gets a ``JobAssignment`` with a room token for the
  participant identity it named. ``UpdateJobStatus`` moves the job's state;
  ``UpdateWorkerStatus`` sets load (and status when present); ``ping`` gets
  ``pong``; ``simulate_job`` dispatches to that worker; ``migrate_job`` is ignored.
- ``terminate(job_id)`` sends ``JobTermination``; ``drop_connections()`` closes
  every worker socket (as a server restart does).

The records and rules live in ``fake_dispatch.py``. It runs on its own loop in a
thread, so a test can drive a worker in-process
(its own loop) or as a subprocess. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from aiohttp import web
from google.protobuf import json_format
from livekit.protocol import agent, models

from tests.livekit.fake_dispatch import (
    Dispatch,
    WorkerRecord,
    agent_token,
    decode_frame,
    granted,
    select_weighted,
)

T = TypeVar("T")
REGISTER_TIMEOUT_S = 10.0
ASSIGN_JOB_TIMEOUT_S = 10.0


class FakeDispatchServer:
    """``with FakeDispatchServer() as server:`` ``server.url`` is the ws_url to give."""

    def __init__(self, api_key: str = "devkey", api_secret: str = "devsecret-" + "x" * 32, *,
                 json_frames: bool = False, seed: int = 0, answer_pings: bool = True) -> None:
        self.api_key, self.api_secret = api_key, api_secret
        self.json_frames = json_frames
        self.answer_pings = answer_pings  # False: a server gone silent, the socket still up
        self.rng = random.Random(seed)
        self.workers: dict[str, WorkerRecord] = {}
        self.dispatches: dict[str, Dispatch] = {}
        self.rejected_auth = 0
        self.connections = 0
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="fake-livekit")
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifetime (called from the test's thread) ---------------------------------
    def __enter__(self) -> FakeDispatchServer:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _call(self, coro: Any, timeout: float = 30.0) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/agent", self._serve)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        await self._drop()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what a test does --------------------------------------------------------
    def wait(self, predicate: Callable[[], T], timeout: float = 60.0, what: str = "") -> T:
        """Poll ``predicate`` (read on the server's loop) until truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self._call(self._read(predicate))
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or predicate}")
            time.sleep(0.05)

    async def _read(self, predicate: Callable[[], T]) -> T:
        return predicate()

    def live_workers(self) -> list[WorkerRecord]:
        return [w for w in self.workers.values() if not w.closed]

    def dispatch(self, room: str, *, agent_name: str = "", job_type: int = agent.JT_ROOM,
                 metadata: str = "") -> Dispatch:
        """Create a job for ``room`` and assign it as the server does; returns once a
        worker took it or none would (``Dispatch.error``)."""
        job = agent.Job(id=f"AJ_{next(self._ids)}", dispatch_id=f"AD_{next(self._ids)}",
                        type=job_type,  # type: ignore[arg-type]
                        room=models.Room(sid=f"RM_{room}", name=room), agent_name=agent_name,
                        metadata=metadata)
        return self._call(self._job_request(job), timeout=60.0)  # type: ignore[no-any-return]

    def terminate(self, job_id: str) -> None:
        self._call(self._terminate(job_id))

    def send_raw(self, worker_id: str, data: str | bytes) -> None:
        """A frame as is, to one worker (what a newer or broken server might send)."""
        self._call(self._send_raw(worker_id, data))

    async def _send_raw(self, worker_id: str, data: str | bytes) -> None:
        ws = self.workers[worker_id].ws
        await (ws.send_str(data) if isinstance(data, str) else ws.send_bytes(data))

    def drop_connections(self) -> None:
        self._call(self._drop())

    def statuses(self, job_id: str) -> list[int]:
        return self._call(self._read(lambda: list(self.dispatches[job_id].statuses)))  # type: ignore[no-any-return]

    # -- the server ----------------------------------------------------------------
    async def _serve(self, request: web.Request) -> web.StreamResponse:
        if not granted(request.headers.get("Authorization", ""), self.api_key,
                       self.api_secret):
            self.rejected_auth += 1
            return web.Response(status=401, text="permission denied")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        worker: WorkerRecord | None = None
        try:
            first = await asyncio.wait_for(ws.receive(), REGISTER_TIMEOUT_S)
            msg, is_text = decode_frame(first)
            if msg is None or msg.WhichOneof("message") != "register":
                return ws
            worker = WorkerRecord(f"AW_{next(self._ids)}", msg.register, ws,
                                  json=is_text or self.json_frames)
            worker.frames.append("text" if is_text else "binary")
            self.workers[worker.id] = worker
            await self._send(worker, agent.ServerMessage(register=agent.RegisterWorkerResponse(
                worker_id=worker.id, server_info=models.ServerInfo(
                    edition=models.ServerInfo.Standard, version="fake", protocol=16,
                    agent_protocol=1, node_id="ND_fake"))))
            async for frame in ws:
                msg, is_text = decode_frame(frame)
                if msg is None:
                    continue
                worker.frames.append("text" if is_text else "binary")
                worker.json = is_text or self.json_frames
                await self._handle(worker, msg)
        except TimeoutError:
            pass
        finally:
            if worker is not None:
                worker.closed = True
                for fut in worker.availability.values():
                    if not fut.done():
                        fut.cancel()
        return ws

    async def _send(self, worker: WorkerRecord, msg: agent.ServerMessage) -> None:
        if worker.json:
            await worker.ws.send_str(json_format.MessageToJson(msg))
        else:
            await worker.ws.send_bytes(msg.SerializeToString())

    async def _handle(self, worker: WorkerRecord, msg: agent.WorkerMessage) -> None:
        kind = msg.WhichOneof("message")
        if kind == "availability":
            fut = worker.availability.pop(msg.availability.job_id, None)
            if fut is not None and not fut.done():
                fut.set_result(msg.availability)
        elif kind == "update_job":
            self._update_job(worker, msg.update_job)
        elif kind == "update_worker":
            worker.updates.append(msg.update_worker)
            if msg.update_worker.HasField("status"):
                worker.status = msg.update_worker.status
            worker.load = msg.update_worker.load
        elif kind == "ping":
            worker.pings += 1
            if self.answer_pings:
                    await self._send(worker, agent.ServerMessage(pong=agent.WorkerPong(
                        last_timestamp=msg.ping.timestamp, timestamp=int(time.time() * 1000))))
        elif kind == "simulate_job":
            sim = msg.simulate_job
            job = agent.Job(id=f"AJ_{next(self._ids)}", type=worker.registration.type,
                            room=sim.room, agent_name=worker.registration.agent_name)
            if sim.HasField("participant"):
                job.participant.CopyFrom(sim.participant)
            self.dispatches[job.id] = Dispatch(job)
            asyncio.get_running_loop().create_task(self._assign(worker, job))
        # migrate_job: livekit-server's OSS HandleMigrateJob does nothing

    def _update_job(self, worker: WorkerRecord, update: agent.UpdateJobStatus) -> None:
        record = self.dispatches.get(update.job_id)
        if record is None or update.job_id not in worker.running:
            return  # "received job update for unknown job": a debug line on the server
        record.statuses.append(update.status)
        record.errors.append(update.error)
        if update.status in (agent.JS_SUCCESS, agent.JS_FAILED):
            del worker.running[update.job_id]

    async def _job_request(self, job: agent.Job) -> Dispatch:
        record = self.dispatches[job.id] = Dispatch(job)
        attempted: set[str] = set()
        while True:
            worker = select_weighted(self.live_workers(), job, attempted, self.rng)
            if worker is None:
                record.error = "no workers with sufficient capacity"
                return record
            attempted.add(worker.id)
            record.asked.append(worker.id)
            if await self._assign(worker, job):
                return record

    async def _assign(self, worker: WorkerRecord, job: agent.Job) -> bool:
        """AssignJob: ask, and on acceptance send the assignment with a room token."""
        record = self.dispatches[job.id]
        fut: asyncio.Future[agent.AvailabilityResponse] = (
            asyncio.get_running_loop().create_future())
        worker.availability[job.id] = fut
        job.state.status = agent.JS_RUNNING
        job.state.worker_id = worker.id
        await self._send(worker, agent.ServerMessage(
            availability=agent.AvailabilityRequest(job=job)))
        try:
            answer = await asyncio.wait_for(fut, ASSIGN_JOB_TIMEOUT_S)
        except (TimeoutError, asyncio.CancelledError):
            return False
        finally:
            worker.availability.pop(job.id, None)
        if answer.terminate:
            return True
        if not answer.available:
            return False
        record.worker, record.identity = worker.id, answer.participant_identity
        record.token = agent_token(self.api_key, self.api_secret, job, answer)
        worker.running[job.id] = job
        await self._send(worker, agent.ServerMessage(
            assignment=agent.JobAssignment(job=job, token=record.token)))
        return True

    async def _terminate(self, job_id: str) -> None:
        for worker in self.live_workers():
            if job_id in worker.running:
                await self._send(worker, agent.ServerMessage(
                    termination=agent.JobTermination(job_id=job_id)))

    async def _drop(self) -> None:
        for worker in self.live_workers():
            await worker.ws.close()
