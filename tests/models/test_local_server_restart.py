"""The launcher supervises the server it spawned: restart on the same port, crash-loop limit.

The restart policy runs on a fake clock and on fake children (a shell that prints the
"listening" line and dies); one real call has its model server SIGKILLed mid-call.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil

from pipeline.model_server.launcher import ModelServerProcess
from pipeline.model_server.restart_window import RestartWindow, describe_exit
from pipeline.record.event_log import read_event_log
from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from pipeline.supervisor.session import SessionSpec, SessionSummary
from pipeline.transports.file.spec import file_transport
from tests.pipeline.test_end_to_end import FAST_HEARTBEAT, check_turns


def test_restart_window_allows_max_restarts_per_window() -> None:
    window = RestartWindow(max_restarts=3, window_s=10.0)
    assert [window.allow(t) for t in (0.0, 1.0, 2.0)] == [True, True, True]
    assert not window.allow(9.0)  # a 4th death within 10 s of the 1st
    assert window.allow(10.5)  # the death at 0.0 left the window
    assert not window.allow(10.6)
    assert window.allow(11.5)
    assert window.restarts == 5


def test_give_up_reason_names_the_exit_code() -> None:
    window = RestartWindow(max_restarts=2, window_s=5.0)
    reason = window.give_up_reason("the server", -signal.SIGKILL)
    assert reason == ("the server keeps dying (exit code -9 (SIGKILL); 2 restarts within 5 s); "
                      "giving up")
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-200) == "exit code -200"


class _FakeServer(ModelServerProcess):
    """A launcher whose child is a shell: it says it listens on its port, then runs `body`."""

    def __init__(self, body: str, window: RestartWindow, first_port: int = 40111) -> None:
        super().__init__(restart_window=window, start_timeout_s=5.0)
        self.body = body
        self.first_port = first_port
        self.ports: list[int] = []

    def command(self, port: int) -> list[str]:
        self.ports.append(port)
        listen = port or self.first_port
        return ["sh", "-c", f"echo 'fake listening on ws://127.0.0.1:{listen}/v1/realtime'; "
                f"{self.body}"]


def _wait_for(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_crash_looping_child_is_restarted_on_its_port_then_given_up() -> None:
    server = _FakeServer("exit 3", RestartWindow(max_restarts=2, window_s=60.0))
    try:
        assert server.start() == "ws://127.0.0.1:40111/v1/realtime"
        assert server.port == 40111
        _wait_for(lambda: server.failure is not None)
        assert server.ports == [0, 40111, 40111]
        assert server.restarts == 2
        assert server.failure is not None and "exit code 3" in server.failure
        assert server.proc is None
    finally:
        server.stop()


def test_stop_ends_monitoring_before_the_child() -> None:
    server = _FakeServer("exec sleep 30", RestartWindow(max_restarts=2, window_s=60.0))
    server.start()
    proc = server.proc
    assert proc is not None and proc.poll() is None
    server.stop()
    assert proc.returncode == -signal.SIGTERM
    time.sleep(0.2)  # a monitor still running would restart the child within this
    assert server.ports == [0]
    assert server.restarts == 0 and server.failure is None and server.proc is None


def test_a_child_killed_once_comes_back_and_is_stopped_cleanly() -> None:
    server = _FakeServer("exec sleep 30", RestartWindow(max_restarts=2, window_s=60.0))
    try:
        server.start()
        first = server.proc
        assert first is not None
        os.kill(first.pid, signal.SIGKILL)
        _wait_for(lambda: server.proc is not None and server.proc is not first)
        assert server.ports == [0, 40111]
        assert server.restarts == 1 and server.failure is None
    finally:
        second = server.proc
        server.stop()
    assert second is not None and second.returncode == -signal.SIGTERM


async def _call_with_server_killed(url: str, server: ModelServerProcess, wav: Path, out: Path,
                                   at_s: float) -> SessionSummary:
    async with Runtime(RuntimeOptions(arbiter=FAST_HEARTBEAT)) as rt:
        session = rt.start_session(SessionSpec(file_transport(wav), out_dir=out, model_url=url))
        await asyncio.sleep(at_s)
        assert server.proc is not None
        old = server.proc.pid
        os.kill(old, signal.SIGKILL)
        return await asyncio.wait_for(session.closed, 60)


def test_model_server_killed_mid_call_is_restarted_and_the_call_goes_on(
        three_turns: Any, tmp_path: Path) -> None:
    wav, labels = three_turns
    with ModelServerProcess(["--engine", "echo"]) as server:
        url, port = server.url, server.port
        assert server.proc is not None
        old = server.proc.pid
        # Kill during the second turn; the third must still be heard and echoed.
        summary = asyncio.run(_call_with_server_killed(url, server, wav, tmp_path, at_s=7.0))
        assert not psutil.pid_exists(old)
        assert server.restarts == 1 and server.failure is None
        assert server.proc is not None and server.proc.pid != old
        assert server.url == url and server.port == port
    assert summary.error is None
    kinds = [e["type"] for e in read_event_log(summary.events)]
    assert kinds.count("model_connected") == 2, kinds
    assert "model_disconnected" in kinds
    found = check_turns(summary, labels, wav, turns=[2])
    assert found and found[0]["ncc"] >= 0.9


def test_an_unsupervised_server_stays_dead() -> None:
    server = _FakeServer("exit 3", RestartWindow())
    server.supervise = False
    try:
        server.start()
        assert server.proc is not None
        server.proc.wait(5)
        time.sleep(0.2)
        assert server.ports == [0] and server.restarts == 0
    finally:
        server.stop()
