"""The LiveKit worker and the LiveKit room transport together: a job the fake dispatch
server assigns runs the agent on a real ``LiveKitRoom`` built from the assignment, and
the edge's real ``LiveKitConnection`` joins (a scripted room in place of the media
server, ``tests/transports/livekit/scripted_edge.py``): the caller's speech is echoed
into the room, the job reports success when the caller leaves."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from livekit.protocol import agent

from pipeline.agents.default_agent import default_entrypoint
from pipeline.agents.room import Room
from pipeline.plugins.offline import realtime as offline
from pipeline.transports.livekit.room import LiveKitRoom
from pipeline.transports.registry import MODULES_ENV
from tests.livekit.fake_server import FakeDispatchServer
from tests.livekit.worker_harness import HELLO, ROOT, Workers, options
from tests.pipeline.audio_checks import read_stereo
from tests.transports.livekit.scripted_edge import HEARD_FILE, WAV_ENV


@dataclass
class LiveKitRooms:
    """Each job's room as the worker would make it, recorded in ``out/job-N``."""

    out: Path
    made: list[LiveKitRoom] = field(default_factory=list)

    def __call__(self, url: str, token: str, *, participant_identity: str | None = None) -> Room:
        room = LiveKitRoom(url, token, participant_identity=participant_identity,
                           out_dir=self.out / f"job-{len(self.made) + 1}")
        self.made.append(room)
        return room


@pytest.mark.timeout(180)
def test_an_assigned_job_answers_the_caller_in_its_livekit_room(
        model_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODULES_ENV, "livekit=tests.transports.livekit.scripted_edge")
    monkeypatch.setenv(WAV_ENV, str(HELLO))
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{path}" if path else str(ROOT))
    model = offline.RealtimeModel(engine="echo", url=model_url)
    rooms = LiveKitRooms(tmp_path)
    with FakeDispatchServer() as server, Workers(
            tmp_path, options(server, entrypoint_fnc=default_entrypoint(model)),
            rooms=rooms):
        server.wait(server.live_workers, 60, "registration")
        done = server.dispatch("lk-room-1")
        server.wait(lambda: {agent.JS_SUCCESS, agent.JS_FAILED} & set(
            server.dispatches[done.job.id].statuses), 90, "the job to end")
        assert server.statuses(done.job.id) == [agent.JS_RUNNING, agent.JS_SUCCESS]
    [room] = rooms.made
    assert room.name == "lk-room-1"  # the room the assignment's token names
    wav = room.out_dir / "conversation.wav"
    rate, _, played = read_stereo(wav)
    heard = np.frombuffer((room.out_dir / HEARD_FILE).read_bytes(), dtype=np.int16)
    played16 = np.round(played * 32768).astype(np.int16)
    assert np.count_nonzero(played16) > rate // 4  # the echo of the caller's hello
    # The room heard exactly what playout played (the silence around it aside).
    assert np.array_equal(heard[heard != 0], played16[played16 != 0])
