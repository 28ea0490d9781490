"""``Worker``: voxpipe as a LiveKit agent worker (livekit-agents 0.12's ``Worker``).

Registers with the server (job type, agent name, permissions), answers job
offers and runs assignments (``Jobs``), and every ``UPDATE_STATUS_INTERVAL_S``
reports its load and status: ``WS_FULL`` at or above ``load_threshold`` (as
livekit-agents compares), or while draining, else ``WS_AVAILABLE``. The server
sends each new job to an available worker, weighted by ``1 - load``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from livekit.protocol import agent, models

from pipeline.agents.dispatch.jobs import Jobs, RoomFactory
from pipeline.agents.dispatch.link import PING_INTERVAL_S, ServerLink
from pipeline.agents.dispatch.load import StageLoad, user_load
from pipeline.agents.job_process import JobProcess
from pipeline.agents.worker import WorkerOptions, WorkerType
from pipeline.supervisor.runtime import Runtime

log = logging.getLogger("voxpipe.worker")

UPDATE_STATUS_INTERVAL_S = 2.5
VERSION = "voxpipe-0.1.0"
_JOB_TYPES = {WorkerType.ROOM: agent.JT_ROOM, WorkerType.PUBLISHER: agent.JT_PUBLISHER}


class Worker:
    """One registration with the LiveKit server; ``run`` until stopped, then drain."""

    def __init__(self, opts: WorkerOptions, runtime: Runtime, *, room_factory: RoomFactory,
                 connect_room: str | None = None,
                 participant_identity: str | None = None) -> None:
        self.opts = opts
        self.runtime = runtime
        self.id = "unregistered"
        self.proc = JobProcess()
        self.load = 0.0
        self.status: int = agent.WS_AVAILABLE
        self._connect = (connect_room, participant_identity)
        self.link = ServerLink(opts.ws_url, opts.api_key or "", opts.api_secret or "",
                               max_retry=opts.max_retry, registration=self._registration,
                               on_registered=self._on_registered, on_message=self._on_message)
        self.jobs = Jobs(opts, runtime, self.proc, self.link.send, room_factory)
        self._stage_load = StageLoad(runtime) if opts.load_fnc is None else None

    @property
    def draining(self) -> bool:
        return self.jobs.draining

    @property
    def active_jobs(self) -> list[agent.Job]:
        return [j.job for j in self.jobs.running.values()]

    # -- the wire ----------------------------------------------------------------
    def _registration(self) -> agent.WorkerMessage:
        perms = self.opts.permissions
        return agent.WorkerMessage(register=agent.RegisterWorkerRequest(
            type=_JOB_TYPES[self.opts.worker_type], agent_name=self.opts.agent_name,
            version=VERSION, ping_interval=PING_INTERVAL_S,
            allowed_permissions=models.ParticipantPermission(
                can_publish=perms.can_publish, can_subscribe=perms.can_subscribe,
                can_publish_data=perms.can_publish_data,
                can_update_metadata=perms.can_update_metadata,
                can_publish_sources=perms.can_publish_sources, hidden=perms.hidden,
                agent=True)))

    def _on_registered(self, reply: agent.RegisterWorkerResponse) -> None:
        first = self.id == "unregistered"
        self.id = reply.worker_id
        log.info("registered with the LiveKit server as %s (%s)", reply.worker_id, self.link.url)
        room, identity = self._connect
        if first and room:
            simulate = agent.SimulateJobRequest(type=_JOB_TYPES[self.opts.worker_type],
                                                room=models.Room(name=room))
            if identity:
                simulate.participant.CopyFrom(models.ParticipantInfo(identity=identity))
            log.info("asking for a job in room %r", room)
            self.link.send(agent.WorkerMessage(simulate_job=simulate))
        # voxpipe's own load: its last reading (a new one now would time the connect).
        asyncio.get_running_loop().create_task(
            self.update_status(measure=self.opts.load_fnc is not None))

    def _on_message(self, msg: agent.ServerMessage) -> None:
        kind = msg.WhichOneof("message")
        if kind == "availability":
            self.jobs.on_availability(msg.availability)
        elif kind == "assignment":
            self.jobs.on_assignment(msg.assignment)
        elif kind == "termination":
            self.jobs.on_termination(msg.termination)
        else:
            log.debug("ignored a %s message from the server", kind)

    # -- status ------------------------------------------------------------------
    async def measure_load(self) -> float:
        if self.opts.load_fnc is not None:
            return await user_load(self.opts.load_fnc, self)
        assert self._stage_load is not None
        return await self._stage_load.measure()

    async def update_status(self, *, measure: bool = True) -> None:
        """Tell the server this worker's load (read now, or the last reading) and
        whether it takes jobs."""
        jobs = len(self.jobs.running)
        if self.draining:
            self.status = agent.WS_FULL
            self.link.send(agent.WorkerMessage(update_worker=agent.UpdateWorkerStatus(
                status=agent.WS_FULL, load=self.load, job_count=jobs, draining=True)))
            return
        try:
            if measure:
                self.load = await self.measure_load()
        except Exception as exc:
            log.error("load_fnc failed (%s: %s): reporting full", type(exc).__name__, exc)
            self.load = 1.0
        status = agent.WS_FULL if self.load >= self.opts.load_threshold else agent.WS_AVAILABLE
        if status != self.status:
            log.info("worker %s (load %.2f, threshold %.2f)",
                     "full: taking no jobs" if status == agent.WS_FULL else "available again",
                     self.load, self.opts.load_threshold)
        self.status = status
        self.link.send(agent.WorkerMessage(update_worker=agent.UpdateWorkerStatus(
            status=status, load=self.load, job_count=jobs)))  # type: ignore[arg-type]

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(UPDATE_STATUS_INTERVAL_S)
            await self.update_status()

    # -- lifetime ----------------------------------------------------------------
    async def prewarm(self) -> None:
        result: Any = self.opts.prewarm_fnc(self.proc)
        if inspect.isawaitable(result):
            await result

    async def run(self, stop: asyncio.Event, drain_timeout_s: float) -> None:
        """Serve until ``stop`` is set, then drain (full, no new jobs; running jobs get
        up to ``drain_timeout_s``). Raises the link's CredentialsRejected or
        ServerUnreachable, or RuntimeError when voxpipe's stages failed for good (a
        worker that cannot run a call must not be sent one)."""
        await self.prewarm()
        link = asyncio.create_task(self.link.run(), name="livekit-link")
        status = asyncio.create_task(self._status_loop(), name="worker-status")
        stopped = asyncio.create_task(stop.wait())
        failed = asyncio.create_task(self.runtime.failed.wait())
        try:
            await asyncio.wait({link, stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
            if link.done():
                link.result()  # raises why the link gave up
                return
            if failed.done():
                raise RuntimeError(f"voxpipe's stages failed: {self.runtime.fault}")
            log.info("draining: no new jobs; %d running get up to %ss",
                     len(self.jobs.running), drain_timeout_s)
            self.jobs.draining = True
            await self.update_status()
            if not await self.jobs.drain(drain_timeout_s):
                log.warning("drain timeout: the jobs still running were ended")
            await self.link.close()
        finally:
            for t in (status, stopped, failed):
                t.cancel()
            await self.jobs.stop_all()
            if not link.done():
                await self.link.close()
                link.cancel()
            await asyncio.gather(link, status, stopped, failed, return_exceptions=True)
