"""Drive a MultimodalAgent through the real pipeline processes and the offline model.

``script_wav`` lays bundled spoken requests on a timeline; ``run_call`` starts a
Runtime, runs an entrypoint on a FileRoom of that input (as ``voxpipe run
--agent`` does) and returns what the agent emitted and what playout logged.
"""

from __future__ import annotations

import asyncio
import json
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.agents.job import JobContext
from pipeline.agents.multimodal import MultimodalAgent
from pipeline.agents.runner import run_agent
from pipeline.supervisor.runtime import Runtime
from pipeline.supervisor.session import SessionSummary
from pipeline.transports.file.room import FileRoom

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = ROOT / "examples" / "audio" / "requests"
RATE = 16000
AGENT_EVENTS = (
    "user_started_speaking", "user_stopped_speaking", "agent_started_speaking",
    "agent_stopped_speaking", "user_speech_committed", "agent_speech_committed",
    "agent_speech_interrupted", "function_calls_collected", "function_calls_finished",
    "metrics_collected", "agent_state_changed", "error",
)


def request_info(name: str) -> dict[str, Any]:
    meta = json.loads((REQUESTS / "requests.json").read_text())
    for r in meta["requests"]:
        if r["file"] == f"{name}.wav":
            return dict(r)
    raise KeyError(name)


def _speech(name: str) -> np.ndarray:
    """The request's speech only (its leading/trailing silence cut)."""
    info = request_info(name)
    with wave.open(str(REQUESTS / info["file"])) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return x[int(info["onset_s"] * RATE): int(info["offset_s"] * RATE) + 1]


def script_wav(path: Path, turns: list[tuple[float, str]], total_s: float) -> dict[str, float]:
    """Write a 16 kHz WAV with each request's speech starting at its time; returns the
    speech onset and offset (s) of each turn keyed ``name@onset``."""
    out = np.zeros(int(total_s * RATE), dtype=np.int16)
    spans: dict[str, float] = {}
    for onset, name in turns:
        speech = _speech(name)
        i = int(onset * RATE)
        out[i: i + speech.size] = speech[: out.size - i]
        spans[f"{name}@{onset}"] = onset + speech.size / RATE
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(out.tobytes())
    return spans


@dataclass
class CallRecord:
    out_dir: Path
    summary: SessionSummary | None
    events: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for n, args in self.events if n == name]

    def names(self) -> list[str]:
        return [n for n, _ in self.events]

    def log(self, kind: str | None = None) -> list[dict[str, Any]]:
        lines = (self.out_dir / "events.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
        return [r for r in records if kind is None or r["type"] == kind]


AgentFactory = Callable[[JobContext], Awaitable[MultimodalAgent]]


def run_call(input_wav: Path, out_dir: Path, make_agent: AgentFactory,
             timeout_s: float = 60.0) -> CallRecord:
    """Run one call to its end; every agent event is recorded in order."""
    record = CallRecord(out_dir, None)

    async def entrypoint(ctx: JobContext) -> None:
        await ctx.connect()
        participant = await ctx.wait_for_participant()
        agent = await make_agent(ctx)
        for name in AGENT_EVENTS:
            agent.on(name, lambda *args, _n=name: record.events.append((_n, args)))
        agent.start(ctx.room, participant)
        ctx.add_shutdown_callback(agent.aclose)
        ctx.add_shutdown_callback(agent._model.aclose)

    async def main() -> None:
        async with Runtime() as runtime:
            record.summary = await asyncio.wait_for(
                run_agent(entrypoint, runtime, FileRoom(input_wav, out_dir),
                          stop=asyncio.Event()), timeout_s)

    asyncio.run(main())
    return record
