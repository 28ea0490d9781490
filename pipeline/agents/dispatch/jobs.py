"""``Jobs``: the jobs a worker is offered, takes and runs.

An ``AvailabilityRequest`` goes to ``request_fnc`` (a ``JobRequest``); its answer
goes back to the server; an accepted job waits ``ASSIGNMENT_TIMEOUT_S`` for its
``JobAssignment`` (room URL + token), then runs: the entrypoint on a room built
from the assignment, through the agent road (``run_agent``) on the worker's one
runtime. The server hears ``JS_RUNNING``, then ``JS_SUCCESS`` or ``JS_FAILED``
with the error. ``JobTermination`` ends a job as ``voxpipe run``'s SIGTERM ends a
call. An entrypoint that returns without joining its room ends its job (there is
no call to wait for).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livekit.protocol import agent

from pipeline.agents.dispatch.request import JobAcceptArguments, JobRequest
from pipeline.agents.job import JobContext
from pipeline.agents.job_process import JobProcess
from pipeline.agents.room import Room
from pipeline.agents.runner import Entrypoint, run_agent
from pipeline.agents.worker import WorkerOptions
from pipeline.logs import session_extra
from pipeline.supervisor.runtime import Runtime

log = logging.getLogger("voxpipe.worker")

ASSIGNMENT_TIMEOUT_S = 7.5  # livekit-agents' wait for the server's assignment
# (url, token, *, participant_identity=the participant to link or None) -> Room
RoomFactory = Callable[..., Room]
_RUN = "job-run-"  # the name of a task that waits for an assignment, then runs the job


def job_extra(job: agent.Job) -> dict[str, str]:
    """``extra=`` for a log line about one job: its id and room."""
    return session_extra(f"{job.id} room={job.room.name or '-'}")


def _status(job_id: str, status: int, error: str = "") -> agent.WorkerMessage:
    return agent.WorkerMessage(update_job=agent.UpdateJobStatus(
        job_id=job_id, status=status, error=error))  # type: ignore[arg-type]


@dataclass
class RunningJob:
    job: agent.Job
    args: JobAcceptArguments
    stop: asyncio.Event = field(default_factory=asyncio.Event)


class Jobs:
    """Answers offers, runs assignments; ``send`` is the server link's."""

    def __init__(self, opts: WorkerOptions, runtime: Runtime, proc: JobProcess,
                 send: Callable[[agent.WorkerMessage], None], room_factory: RoomFactory) -> None:
        self.opts = opts
        self.runtime = runtime
        self.proc = proc
        self.send = send
        self.room_factory = room_factory
        self.draining = False
        self.running: dict[str, RunningJob] = {}
        self._assignments: dict[str, asyncio.Future[agent.JobAssignment]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- from the server ---------------------------------------------------------
    def on_availability(self, req: agent.AvailabilityRequest) -> None:
        self._spawn(self._answer(req.job), f"job-request-{req.job.id}")

    def on_assignment(self, assignment: agent.JobAssignment) -> None:
        fut = self._assignments.pop(assignment.job.id, None)
        if fut is None or fut.done():
            log.warning("assignment for a job this worker did not accept",
                        extra=job_extra(assignment.job))
            return
        fut.set_result(assignment)

    def on_termination(self, term: agent.JobTermination) -> None:
        job = self.running.get(term.job_id)
        if job is None:
            return  # already over
        log.info("job terminated by the server", extra=job_extra(job.job))
        job.stop.set()

    # -- answering -----------------------------------------------------------------
    async def _answer(self, job: agent.Job) -> None:
        log.info("job request (agent %r)", job.agent_name, extra=job_extra(job))

        async def on_reject() -> None:
            self.send(agent.WorkerMessage(availability=agent.AvailabilityResponse(
                job_id=job.id, available=False)))

        async def on_accept(args: JobAcceptArguments) -> None:
            fut = asyncio.get_running_loop().create_future()
            self._assignments[job.id] = fut
            self.send(agent.WorkerMessage(availability=agent.AvailabilityResponse(
                job_id=job.id, available=True, participant_identity=args.identity,
                participant_name=args.name, participant_metadata=args.metadata,
                participant_attributes=args.attributes)))
            self._spawn(self._await_assignment(job, args, fut), f"{_RUN}{job.id}")

        request = JobRequest(job, on_accept=on_accept, on_reject=on_reject)
        if self.draining:
            await request.reject()
            return
        try:
            if self.opts.request_fnc is None:
                await request.accept()
            else:
                await self.opts.request_fnc(request)
        except Exception:
            log.exception("request_fnc failed", extra=job_extra(job))
        if request.answer is None:
            log.warning("request_fnc neither accepted nor rejected the job: rejected",
                        extra=job_extra(job))
            await request.reject()

    async def _await_assignment(self, job: agent.Job, args: JobAcceptArguments,
                                fut: asyncio.Future[agent.JobAssignment]) -> None:
        try:
            assignment = await asyncio.wait_for(fut, ASSIGNMENT_TIMEOUT_S)
        except TimeoutError:
            self._assignments.pop(job.id, None)
            log.warning("no assignment within %.1fs for an accepted job", ASSIGNMENT_TIMEOUT_S,
                        extra=job_extra(job))
            return
        running = RunningJob(assignment.job, args)
        self.running[job.id] = running
        try:
            await self._run(running, assignment.url or self.opts.ws_url, assignment.token)
        finally:
            self.running.pop(job.id, None)

    # -- running -------------------------------------------------------------------
    async def _run(self, running: RunningJob, url: str, token: str) -> None:
        job = running.job
        self.send(_status(job.id, agent.JS_RUNNING))
        log.info("job running as %r", running.args.identity, extra=job_extra(job))
        room: Room | None = None
        # Whom the room links: the job's participant (a publisher job, or connect
        # --participant-identity), else the first caller. The agent's own identity
        # is in the token.
        linked = job.participant.identity if job.HasField("participant") else ""
        try:
            room = self.room_factory(url, token, participant_identity=linked or None)
            summary = await run_agent(self._entry(running), self.runtime, room,
                                      stop=running.stop, proc=self.proc, job=job)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.error("job failed: %s", error, extra=job_extra(job))
            self.send(_status(job.id, agent.JS_FAILED, error))
            return
        finally:
            if room is not None and room.isconnected():
                await room.disconnect()
        if summary is not None and summary.error:
            log.error("job's call failed: %s", summary.error, extra=job_extra(job))
            self.send(_status(job.id, agent.JS_FAILED, summary.error))
            return
        log.info("job done", extra=job_extra(job))
        self.send(_status(job.id, agent.JS_SUCCESS))

    def _entry(self, running: RunningJob) -> Entrypoint:
        entrypoint = self.opts.entrypoint_fnc

        async def entry(ctx: JobContext) -> None:
            await entrypoint(ctx)
            if not ctx.room.isconnected():
                running.stop.set()  # never joined: no call will end it

        return entry

    # -- ending --------------------------------------------------------------------
    def _job_tasks(self) -> list[asyncio.Task[Any]]:
        return [t for t in self._tasks if t.get_name().startswith(_RUN)]

    async def drain(self, timeout_s: float) -> bool:
        """No new jobs; wait for the running ones up to ``timeout_s``, then stop them.
        True if every job ended by itself."""
        self.draining = True
        tasks = self._job_tasks()
        if tasks and timeout_s > 0:
            await asyncio.wait(tasks, timeout=timeout_s)
        if not self._job_tasks():
            return True
        await self.stop_all()
        return False

    def end_all(self) -> None:
        """Tell every running job to end (its call's session ends, its files finish)."""
        for job in self.running.values():
            job.stop.set()

    async def stop_all(self) -> None:
        """End every job and wait (a few seconds at most) for them to finish."""
        self.end_all()
        tasks = self._job_tasks()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        for t in list(self._tasks):
            t.cancel()
