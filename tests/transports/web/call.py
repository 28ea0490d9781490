"""A WebRTC call through the real processes: an aiortc caller, the edge answering."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from ipc.schema import AgentStoppedSpeaking, StageEvent, WebAnswer
from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from pipeline.supervisor.session import Session, SessionSpec, SessionSummary
from tests.pipeline.test_end_to_end import FAST_HEARTBEAT
from tests.transports.web.client import WebCaller

During = Callable[[Runtime, Session, WebCaller], Awaitable[None]]
# Audio still on its way to the caller when playout's last item stopped.
DRAIN_S = 0.5


@dataclass
class WebCall:
    summary: SessionSummary
    caller: WebCaller
    answer: WebAnswer
    counters: dict[str, dict[str, int]]
    events: list[StageEvent] = field(default_factory=list)


async def run_web_call(model_url: str, wav: Path, out: Path, *, agent_items: int,
                       during: During | None = None, local_vad_ms: int = 0) -> WebCall:
    """``wav`` calls in over WebRTC; once the file has played and playout finished
    ``agent_items`` items, the caller hangs up (which ends the session)."""
    caller = WebCaller(wav)
    transport = await caller.offer()
    try:
        async with Runtime(RuntimeOptions(arbiter=FAST_HEARTBEAT)) as rt:
            session = rt.start_session(SessionSpec(transport, out_dir=out, model_url=model_url,
                                                   local_vad_min_speech_ms=local_vad_ms))
            answered: asyncio.Future[WebAnswer] = asyncio.get_running_loop().create_future()
            items_done = asyncio.Event()
            events: list[StageEvent] = []

            def listen(ev: StageEvent) -> None:
                events.append(ev)
                if isinstance(ev.event, WebAnswer) and not answered.done():
                    answered.set_result(ev.event)
                stopped = sum(isinstance(e.event, AgentStoppedSpeaking) for e in events)
                if stopped >= agent_items:
                    items_done.set()

            session.on(listen)
            answer = await asyncio.wait_for(answered, 10)
            await caller.answer(answer.sdp, answer.sdp_type)
            if during is not None:
                await during(rt, session, caller)
            await asyncio.wait_for(items_done.wait(), 90)
            while not caller.mic.done:
                await asyncio.sleep(0.1)
            await asyncio.sleep(DRAIN_S)
            await caller.close()
            summary = await asyncio.wait_for(session.closed, 30)
            stats = await rt.stage_stats()
    finally:
        await caller.close()
    return WebCall(summary, caller, answer, {k: v.counters for k, v in stats.items()}, events)
