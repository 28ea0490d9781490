"""The fake dispatch server is faithful: an unmodified livekit-agents 0.12 worker (its
own venv, ``python agent.py start``) registers with it, is offered a job, accepts
it, is assigned it, runs it and reports it running then done, declines another,
and drains on SIGTERM, as against a real LiveKit server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from livekit.protocol import agent

from tests.livekit.fake_server import FakeDispatchServer
from tests.livekit.lk_venv import lk_agents_python

AGENT = Path(__file__).parent / "agents" / "lk012_agent.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(900)  # the first run builds the venv from PyPI
def test_livekit_agents_012_worker_runs_a_job_through_the_fake(tmp_path: Path) -> None:
    python = lk_agents_python()
    with FakeDispatchServer() as server:
        env = {**os.environ, "LIVEKIT_URL": server.url, "LIVEKIT_API_KEY": server.api_key,
               "LIVEKIT_API_SECRET": server.api_secret,
               "AGENT_HTTP_PORT": str(_free_port())}
        env.pop("PYTHONPATH", None)
        log = (tmp_path / "agent.log").open("w+")
        proc = subprocess.Popen([str(python), str(AGENT), "start"], env=env, cwd=tmp_path,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            [worker] = server.wait(server.live_workers, 120, "the 0.12 worker to register")
            assert worker.registration.type == agent.JT_ROOM
            assert worker.registration.allowed_permissions.agent
            assert worker.frames[0] == "binary"
            done = server.dispatch("faithful-room")
            assert done.error == "" and done.worker == worker.id
            assert done.identity == "lk-agent"
            statuses = server.wait(
                lambda: agent.JS_SUCCESS in done.statuses and list(done.statuses), 120,
                "the job to succeed")
            assert statuses[0] == agent.JS_RUNNING
            assert statuses[-1] == agent.JS_SUCCESS
            server.wait(lambda: worker.updates, 30, "a worker status update")
            assert all(u.status == agent.WS_AVAILABLE for u in worker.updates)
            assert abs(worker.load - 0.1) < 1e-6
            refused = server.dispatch("reject-me")
            assert (refused.asked, refused.worker) == ([worker.id], None)
            assert refused.error == "no workers with sufficient capacity"
            # SIGTERM: livekit-agents drains, and says so with a full status.
            proc.send_signal(signal.SIGTERM)
            server.wait(lambda: worker.status == agent.WS_FULL, 30, "the drain's full status")
            assert proc.wait(60) == 0
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.seek(0)
            output = log.read()
            log.close()
        assert f"ENTRYPOINT job={done.job.id} room=faithful-room" in output, output[-3000:]
