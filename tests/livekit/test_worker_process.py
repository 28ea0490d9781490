"""The worker as users run it, a process of its own (``python agent.py start``):
SIGTERM drains it, and a missing or rejected credential is one line and exit 1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from livekit.protocol import agent

from tests.livekit.fake_server import FakeDispatchServer

ROOT = Path(__file__).resolve().parents[2]
AGENT = Path(__file__).parent / "agents" / "vox_agent.py"


def _env(server: FakeDispatchServer, tmp: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "LIVEKIT_URL": server.url,
            "LIVEKIT_API_KEY": server.api_key, "LIVEKIT_API_SECRET": server.api_secret,
            "VOX_RELEASE": str(tmp / "release"), "VOX_OUT": str(tmp / "out"), **extra}


def _start(env: dict[str, str], tmp: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(AGENT), *args], env=env, cwd=tmp, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _assert_one_line_error(proc: subprocess.Popen[str], code: int, words: str) -> None:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, (proc.returncode, err[-2000:])
    assert "Traceback" not in err and "Traceback" not in out
    errors = [ln for ln in err.splitlines() if ln.startswith("voxpipe: error:")]
    assert len(errors) == 1 and words in errors[0], err[-2000:]


@pytest.mark.parametrize("drain_timeout", ["60", "1"])
def test_sigterm_drains_the_worker(tmp_path: Path, drain_timeout: str) -> None:
    """60 s: the running job finishes by itself; 1 s: the drain ends it. Either way the
    worker takes no new job once signalled, and exits 0."""
    with FakeDispatchServer() as server:
        proc = _start(_env(server, tmp_path, VOX_DRAIN_TIMEOUT=drain_timeout), tmp_path,
                      "start")
        try:
            [worker] = server.wait(server.live_workers, 60, "registration")
            job = server.dispatch("call")
            assert job.worker == worker.id
            server.wait(lambda: job.statuses, 30, "the job to run")
            proc.send_signal(signal.SIGTERM)
            server.wait(lambda: any(u.draining for u in worker.updates), 30, "draining")
            assert worker.status == agent.WS_FULL
            refused = server.dispatch("another-call")
            assert (refused.asked, refused.error) == ([], "no workers with sufficient capacity")
            if drain_timeout == "60":
                (tmp_path / "release").touch()
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            out, err = proc.communicate()
        assert server.statuses(job.job.id) == [agent.JS_RUNNING, agent.JS_SUCCESS], err[-2000:]
        assert f"JOB {job.job.id} running" in out
        assert server.wait(lambda: worker.closed, 10, "the socket to close")


def test_a_second_signal_ends_the_running_jobs(tmp_path: Path) -> None:
    with FakeDispatchServer() as server:
        proc = _start(_env(server, tmp_path), tmp_path, "start")
        try:
            [worker] = server.wait(server.live_workers, 60, "registration")
            job = server.dispatch("call")
            server.wait(lambda: job.statuses, 30, "the job to run")
            proc.send_signal(signal.SIGTERM)
            server.wait(lambda: any(u.draining for u in worker.updates), 30, "draining")
            proc.send_signal(signal.SIGTERM)  # the job never ends by itself
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        assert server.statuses(job.job.id) == [agent.JS_RUNNING, agent.JS_SUCCESS]


def test_missing_key_is_one_line(tmp_path: Path) -> None:
    with FakeDispatchServer() as server:
        env = _env(server, tmp_path)
        del env["LIVEKIT_API_KEY"]
        _assert_one_line_error(_start(env, tmp_path, "start"), 1, "LIVEKIT_API_KEY is not set")


def test_rejected_secret_is_one_line(tmp_path: Path) -> None:
    with FakeDispatchServer() as server:
        env = _env(server, tmp_path, LIVEKIT_API_SECRET="wrong-" + "z" * 32)
        _assert_one_line_error(_start(env, tmp_path, "start"), 1, "rejected the API key/secret")
        assert server.rejected_auth == 1


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    with FakeDispatchServer() as server:
        env = _env(server, tmp_path)
        _assert_one_line_error(_start(env, tmp_path, "serve"), 2, "unknown worker mode")
        _assert_one_line_error(_start(env, tmp_path, "connect"), 2, "--room")
