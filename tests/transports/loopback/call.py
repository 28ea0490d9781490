"""A loopback call through the real processes, for the transport and fault tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ipc.schema import LoopbackTransport
from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from pipeline.supervisor.session import Session, SessionSpec, SessionSummary
from pipeline.transports.registry import MODULES_ENV
from tests.pipeline.test_end_to_end import FAST_HEARTBEAT
from tests.transports.loopback.peer import LoopbackPeer

ROOT = Path(__file__).resolve().parents[3]

During = Callable[[Runtime, Session], Awaitable[None]]


def enable_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the stage processes (which inherit this environment) find the loopback kind."""
    monkeypatch.setenv(MODULES_ENV, "loopback=tests.transports.loopback")
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{path}" if path else str(ROOT))


@dataclass
class LoopbackCall:
    summary: SessionSummary
    peer: LoopbackPeer
    counters: dict[str, dict[str, int]]
    restarts: dict[str, int]


async def run_loopback_call(model_url: str, wav: Path, out: Path,
                            during: During | None = None) -> LoopbackCall:
    """``wav`` calls in over the loopback transport; ``during`` runs beside the call."""
    peer = LoopbackPeer(wav)
    address = await peer.start()
    try:
        async with Runtime(RuntimeOptions(arbiter=FAST_HEARTBEAT)) as rt:
            session = rt.start_session(SessionSpec(LoopbackTransport(address), out_dir=out,
                                                   model_url=model_url))
            if during is not None:
                await during(rt, session)
            summary = await asyncio.wait_for(session.closed, 60)
            stats = await rt.stage_stats()
            assert rt.arbiter is not None
            restarts = {name: st.restarts for name, st in rt.arbiter.stages.items()}
    finally:
        await peer.stop()
    return LoopbackCall(summary, peer, {k: v.counters for k, v in stats.items()}, restarts)
