"""The server's calls: one offer, one room, one agent job, one pipeline session.

``Calls.start`` admits a call (``--max-sessions``, admission control) on the room its
signalling built and runs the agent's entrypoint on it through ``run_agent`` (the road
``voxpipe run`` takes); ``Calls.answer`` waits for the edge's answer on the session's
events (``WebAnswer`` for a browser, ``RtpReady`` for a SIP call). ``Calls.offer`` is
the browser's road (a ``WebRoom`` per offer); trickled candidates go to the session's
edge; ``end_all`` ends every call with its recording finalized (SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipc.schema import AgentStoppedSpeaking, RtpReady, SessionError, StageEvent, WebAnswer
from pipeline.agents.room import Room
from pipeline.agents.runner import Entrypoint, run_agent
from pipeline.logs import session_extra
from pipeline.serve.metrics import ServerMetrics
from pipeline.serve.options import ServeOptions
from pipeline.supervisor.admission import AdmissionRefused
from pipeline.supervisor.runtime import Runtime
from pipeline.supervisor.session import Session
from pipeline.transports.web.room import room_for_offer

log = logging.getLogger("voxpipe.serve")


class CallError(Exception):
    """An offer that did not become a call; ``status`` is the HTTP answer."""

    status = 500


class CallRefused(CallError):
    status = 503


class CallsFull(CallRefused):
    """``--max-sessions`` calls are live (SIP answers 486 Busy Here)."""


class CallConflict(CallError):
    status = 409


class OfferRejected(CallError):
    status = 400


class ModelUnavailable(CallError):
    status = 502


class AnswerTimeout(CallError):
    status = 504


class UnknownCall(CallError):
    status = 404


@dataclass(frozen=True)
class Candidate:
    """One trickled ICE candidate (``candidate`` "": the end of candidates)."""

    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None


Answer = WebAnswer | RtpReady


@dataclass(eq=False)
class Call:
    """One live call; ``call_id`` is what its signalling calls it (a browser's ``pc_id``,
    a SIP call's ``sip-<hex>``), and its session's id."""

    call_id: str
    room: Room
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    answer: asyncio.Future[Answer] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())
    unsent: list[Candidate] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        # Nobody may be waiting any more (the offer timed out): not an unretrieved error.
        self.answer.add_done_callback(lambda f: f.cancelled() or f.exception())

    @property
    def log_extra(self) -> dict[str, str]:
        return session_extra(self.room.session_id or self.call_id)

    def fail(self, error: CallError) -> None:
        if not self.answer.done():
            self.answer.set_exception(error)


class Calls:
    """Every live call of the server."""

    def __init__(self, runtime: Runtime, entry: Entrypoint, options: ServeOptions,
                 metrics: ServerMetrics) -> None:
        self.runtime, self.entry, self.options, self.metrics = runtime, entry, options, metrics
        self.live: dict[str, Call] = {}
        self.accepting = True
        self._scratch: Path | None = None  # recordings nobody asked to keep

    async def offer(self, sdp: str, offer_type: str, client_pc_id: str | None = None,
                    ) -> tuple[Call, WebAnswer]:
        """Admit the offer and run its call; the edge's answer. Raises a ``CallError``.
        A ``client_pc_id`` naming a live call asks to renegotiate it: not supported."""
        if client_pc_id is not None and client_pc_id in self.live:
            raise CallConflict(f"call {client_pc_id} is live: renegotiation is not supported")
        self.admit()
        pc_id = f"pc-{secrets.token_hex(8)}"
        room = room_for_offer(pc_id, sdp, self.out_dir(pc_id), offer_type=offer_type,
                              ice_servers=self.options.ice_servers,
                              host_addresses=self.options.rtc_hosts)
        call = self.start(pc_id, room)
        answer = await self.answer(call)
        if not isinstance(answer, WebAnswer):  # the edge answered another kind of call
            await self._end(call)
            raise OfferRejected(f"the edge answered with {type(answer).__name__}")
        return call, answer

    def admit(self) -> None:
        """Whether one more call may start now; raises ``CallRefused`` (``CallsFull``
        at ``--max-sessions``), counted by reason."""
        limit = self.options.max_sessions
        if not self.accepting:
            self.metrics.calls_refused.labels(reason="shutting_down").inc()
            raise CallRefused("the server is shutting down")
        if limit is not None and len(self.live) >= limit:
            self.metrics.calls_refused.labels(reason="full").inc()
            raise CallsFull(f"the server is full ({limit} calls)")
        try:  # calls admitted whose sessions have not started yet count as live
            self.runtime.admit(pending=sum(c.room.session_id is None for c in self.live.values()))
        except AdmissionRefused as exc:
            self.metrics.calls_refused.labels(reason=exc.reason).inc()
            raise CallRefused(str(exc)) from None

    def start(self, call_id: str, room: Room) -> Call:
        """Run the agent on an admitted call's ``room`` (see ``admit``)."""
        call = Call(call_id, room)
        self.live[call_id] = call
        self.metrics.calls_total.inc()
        self.metrics.calls_active.inc()
        log.info("call %s admitted (%d live)", call_id, len(self.live), extra=call.log_extra)
        call.task = asyncio.create_task(self._run(call), name=f"call-{call_id}")
        return call

    async def answer(self, call: Call) -> Answer:
        """The edge's answer to ``call``; a ``CallError`` ends the call and is raised."""
        try:
            answer = await asyncio.wait_for(asyncio.shield(call.answer),
                                            self.options.answer_timeout_s)
        except TimeoutError:
            await self._end(call)
            raise AnswerTimeout(f"no answer within {self.options.answer_timeout_s:.0f} s; "
                                "the call was ended") from None
        except CallError:
            await self._end(call)
            raise
        log.info("call %s answered", call.call_id, extra=call.log_extra)
        return answer

    async def _end(self, call: Call) -> None:
        """End a call that will not be answered, and wait (a bounded while) until it is
        over: whoever is told it failed then finds no call left behind."""
        call.stop.set()
        if call.task is not None:
            await asyncio.wait({call.task}, timeout=self.options.end_calls_grace_s)

    def add_candidates(self, pc_id: str, candidates: list[Candidate]) -> None:
        """Trickle ICE: to the call's edge connection (held until its session starts)."""
        call = self.live.get(pc_id)
        if call is None:
            raise UnknownCall(f"no live call {pc_id}")
        call.unsent.extend(candidates)
        self._send_candidates(call)

    async def end_all(self) -> None:
        """Refuse new offers; end every call (sessions closed, recordings finalized)."""
        self.accepting = False
        tasks = [c.task for c in self.live.values() if c.task is not None]
        for call in self.live.values():
            call.stop.set()
        if tasks:
            await asyncio.wait(tasks, timeout=self.options.end_calls_grace_s)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    # -- one call ---------------------------------------------------------------------
    def out_dir(self, call_id: str) -> Path:
        """Where the call is recorded (``--record``, or a scratch folder)."""
        if self.options.record_dir is not None:
            return self.options.record_dir / call_id
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="voxpipe-serve-"))
        return self._scratch / call_id

    async def _run(self, call: Call) -> None:
        try:
            summary = await run_agent(self.entry, self.runtime, call.room, stop=call.stop,
                                      on_session=lambda s: self._bound(call, s))
            error = summary.error if summary is not None else None
            call.fail(CallRefused("the server is shutting down") if not self.accepting else
                      CallError(f"the call ended before it was answered: {error or 'no session'}"))
            log.info("call %s ended%s", call.call_id, f": {error}" if error else "",
                     extra=call.log_extra)
        except AdmissionRefused as exc:  # admitted, but the headroom went before it started
            log.warning("call %s refused: %s", call.call_id, exc, extra=call.log_extra)
            self.metrics.calls_refused.labels(reason=exc.reason).inc()
            call.fail(CallRefused(str(exc)))
        except Exception as exc:  # the user's entrypoint failed: this call only
            log.error("call %s: agent entrypoint failed: %s: %s", call.call_id,
                      type(exc).__name__, exc, extra=call.log_extra)
            call.fail(CallError(f"agent entrypoint failed: {type(exc).__name__}: {exc}"))
        finally:
            self.live.pop(call.call_id, None)
            self.metrics.calls_active.dec()
            if self.options.record_dir is None:
                with contextlib.suppress(OSError):
                    shutil.rmtree(call.room.out_dir)

    def _bound(self, call: Call, session: Session) -> None:
        log.info("call %s is session %s, recorded in %s", call.call_id, session.id,
                 call.room.out_dir, extra=call.log_extra)
        session.on(lambda ev: self._on_event(call, ev))
        self._send_candidates(call)

    def _on_event(self, call: Call, ev: StageEvent) -> None:
        e: Any = ev.event
        if ((isinstance(e, WebAnswer) and e.pc_id == call.call_id)
                or (isinstance(e, RtpReady) and e.call_id == call.call_id)):
            if not call.answer.done():
                call.answer.set_result(e)
        elif isinstance(e, SessionError) and not call.answer.done():
            # Before the answer, the edge's errors are about the offer; the model's
            # matter only when they end the session.
            if e.source != "model":
                call.fail(OfferRejected(f"offer rejected: {e.message}"))
            elif e.fatal:
                call.fail(ModelUnavailable(f"the model is unavailable: {e.message}"))
        elif isinstance(e, AgentStoppedSpeaking) and e.interrupted:
            self.metrics.barge_ins.inc()

    def _send_candidates(self, call: Call) -> None:
        sid = call.room.session_id
        if sid is None:
            return
        for c in call.unsent:
            self.runtime.candidate(sid, c.candidate, c.sdp_mid, c.sdp_mline_index)
        call.unsent.clear()
