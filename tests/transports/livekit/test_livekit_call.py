"""A LiveKit call through every process, as a LiveKit job runs one: the default agent's
entrypoint on a ``LiveKitRoom``, the edge's real ``LiveKitConnection`` on a scripted
room (``scripted_edge.py``: the one part a LiveKit server would play) whose caller
says the three-turn call on a real microphone track and leaves, and the offline
model's echo. The agent's voice the room heard is what the record says was played;
the room got the agent state and transcriptions; the caller leaving ended the call."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from livekit import api

from pipeline.agents.default_agent import default_entrypoint
from pipeline.agents.runner import run_agent
from pipeline.plugins.offline.realtime import RealtimeModel
from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from pipeline.transports.livekit.room import LiveKitRoom
from pipeline.transports.registry import MODULES_ENV
from tests.pipeline.audio_checks import read_stereo
from tests.pipeline.test_end_to_end import FAST_HEARTBEAT
from tests.transports.livekit.scripted_edge import CALLER, HEARD_FILE, NOTES_FILE, WAV_ENV

ROOT = Path(__file__).resolve().parents[3]


def _token(room: str) -> str:
    grants = api.VideoGrants(room_join=True, room=room)
    return (api.AccessToken("devkey", "devsecret-devsecret-devsecret-00")
            .with_identity("voxpipe-agent").with_grants(grants).to_jwt())


def test_a_livekit_call_runs_the_agent_through_every_process(
        model_url: str, three_turns: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    wav, labels = three_turns
    monkeypatch.setenv(MODULES_ENV, "livekit=tests.transports.livekit.scripted_edge")
    monkeypatch.setenv(WAV_ENV, str(wav))
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{path}" if path else str(ROOT))
    out = tmp_path / "call"
    room = LiveKitRoom("ws://127.0.0.1:7880", _token("lk-call"), out_dir=out)
    joined: list[str] = []
    left: list[str] = []
    room.on("session_bound", lambda sid: joined.extend(room.remote_participants))
    room.on("participant_disconnected", lambda p: left.append(p.identity))

    async def main() -> Any:
        model = RealtimeModel(engine="echo", url=model_url)
        async with Runtime(RuntimeOptions(arbiter=FAST_HEARTBEAT)) as rt:
            return await asyncio.wait_for(
                run_agent(default_entrypoint(model), rt, room, stop=asyncio.Event()), 90)

    summary = asyncio.run(main())
    assert summary is not None and summary.error is None
    assert len(summary.turns) == len(labels["turns"]), summary.turns
    # The stand-in the agent subscribed to became the caller the edge linked, who left.
    assert joined == ["livekit-participant"] and left == [CALLER]
    # The room heard exactly what playout played (silence between the turns aside).
    assert summary.wav is not None
    rate, _, agent = read_stereo(summary.wav)
    played = np.round(agent * 32768).astype(np.int16)
    heard = np.frombuffer((out / HEARD_FILE).read_bytes(), dtype=np.int16)
    assert rate == 24000
    assert np.count_nonzero(played) > rate  # three echoes
    heard_voiced, played_voiced = heard[heard != 0], played[played != 0]
    assert np.array_equal(heard_voiced, played_voiced), (len(heard_voiced), len(played_voiced))
    notes = json.loads((out / NOTES_FILE).read_text())
    states = [a["lk.agent.state"] for a in notes["attributes"]]
    assert states[0] == "initializing" and {"listening", "speaking"} <= set(states)
    agent_lines = [t for t in notes["transcriptions"] if t[0] == "agent-1"]
    assert agent_lines and {t[1] for t in agent_lines} == {"TR_agentvoice"}
    assert any(seg[2] for t in agent_lines for seg in t[2])  # a final segment
