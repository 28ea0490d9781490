"""Faults with real processes: a stage SIGKILLed mid-call (the edge also mid-way through a
live loopback call), SIGTERM of the whole run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from pipeline.supervisor.session import Session, SessionSpec, SessionSummary
from pipeline.transports.file.spec import file_transport
from tests.pipeline.audio_checks import delay_of, read_mono, read_stereo
from tests.pipeline.test_end_to_end import FAST_HEARTBEAT, check_turns
from tests.transports.loopback.call import enable_loopback, run_loopback_call

ROOT = Path(__file__).resolve().parents[2]


async def _kill_mid_call(model_url: str, wav: Path, out: Path, stage: str,
                         at_s: float) -> tuple[SessionSummary, int, int, int, int | None]:
    async with Runtime(RuntimeOptions(arbiter=FAST_HEARTBEAT)) as rt:
        session = rt.start_session(SessionSpec(file_transport(wav), out_dir=out,
                                               model_url=model_url))
        await asyncio.sleep(at_s)
        assert rt.arbiter is not None
        old = rt.pids()[stage]
        os.kill(old, signal.SIGKILL)
        t_kill = time.monotonic()
        new = old
        while new == old and time.monotonic() - t_kill < 30:
            await asyncio.sleep(0.02)
            new = rt.pids()[stage]
        print(f"{stage} replaced after {time.monotonic() - t_kill:.2f} s")
        # Reaped (exit code of our SIGKILL), not killed later on a heartbeat deadline.
        reaped_exit = rt.arbiter.stages[stage].last_exit
        summary = await asyncio.wait_for(session.closed, 60)
        restarts = rt.arbiter.stages[stage].restarts
    return summary, old, new, restarts, reaped_exit


@pytest.mark.parametrize("stage", ["capture", "dsp", "model", "playout", "edge"])
def test_stage_killed_mid_call_is_restarted_and_the_call_goes_on(
        model_url: str, three_turns: Any, tmp_path: Path, stage: str) -> None:
    wav, labels = three_turns
    # Kill during the second turn; the third must still be heard and echoed.
    summary, old, new, restarts, reaped_exit = asyncio.run(
        _kill_mid_call(model_url, wav, tmp_path / stage, stage, at_s=7.0))
    assert new != old and not psutil.pid_exists(old)
    assert restarts == 1
    assert reaped_exit == -signal.SIGKILL
    assert summary.error is None
    found = check_turns(summary, labels, wav, turns=[2])
    assert found and found[0]["ncc"] >= 0.9


async def _kill_edge(rt: Runtime, session: Session) -> None:
    await asyncio.sleep(7.0)
    os.kill(rt.pids()["edge"], signal.SIGKILL)


def test_edge_killed_mid_loopback_call_reconnects_and_the_call_goes_on(
        model_url: str, three_turns: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    enable_loopback(monkeypatch)
    wav, labels = three_turns
    call = asyncio.run(run_loopback_call(model_url, wav, tmp_path / "call", _kill_edge))
    summary, peer = call.summary, call.peer
    assert call.restarts == {"capture": 0, "dsp": 0, "model": 0, "playout": 0, "edge": 1}
    assert peer.connections == 2  # the restarted edge called the peer back
    assert summary.error is None
    # The third turn, said after the reconnect, is in the record and echoed to the caller.
    assert summary.wav is not None
    rate, user, agent = read_stereo(summary.wav)
    third = labels["turns"][2]
    offset = delay_of(user, read_mono(wav, rate), rate, start_s=third["onset_s"] - 0.5,
                      dur_s=third["offset_s"] - third["onset_s"] + 1.0)
    found = check_turns(summary, labels, wav, turns=[2], offset_s=offset)
    assert found and found[0]["ncc"] >= 0.9
    heard = peer.received_audio()
    end = int((third["offset_s"] + offset) * rate)
    assert np.array_equal(heard[end:], agent[end : len(heard)])
    assert np.any(heard[end:])


def _descendants(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def test_sigterm_stops_everything_cleanly(tmp_path: Path, three_turns: Any) -> None:
    wav, _ = three_turns
    rundir = tmp_path / "run"
    rundir.mkdir()
    env = dict(os.environ, XDG_RUNTIME_DIR=str(rundir))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", "--input", str(wav), "--out", str(out)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        children: list[int] = []
        while time.monotonic() < deadline:
            children = _descendants(proc.pid)
            if len(children) >= 5 and (out / "events.jsonl").exists():
                break
            time.sleep(0.1)
        assert len(children) >= 5, "stages and model server did not all start"
        time.sleep(2.0)
        children = _descendants(proc.pid)
        titles = {" ".join(psutil.Process(c).cmdline()).strip() for c in children}
        assert {"voxpipe: capture", "voxpipe: dsp", "voxpipe: model",
                "voxpipe: playout", "voxpipe: edge"} <= titles, titles
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        took = time.monotonic() - t
    finally:
        if proc.poll() is None:
            proc.kill()
    _stdout, stderr = proc.communicate()
    assert code == 0, stderr.decode()
    # The stop path bounds itself at ~2 s (1 s for sessions to close, 1 s for stages to
    # exit, then SIGKILL); 10 s only catches a stop that hangs, whatever the load.
    assert took <= 10.0, took
    assert not [c for c in children if psutil.pid_exists(c)]
    assert not [p for p in rundir.rglob("*") if p.is_socket()]
    assert not list(rundir.iterdir()), list(rundir.iterdir())
    with wave.open(str(out / "conversation.wav")) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 24000
        frames = w.getnframes()
        assert frames == len(w.readframes(frames)) // 4
        assert frames > 24000
    lines = (out / "events.jsonl").read_bytes()
    assert lines.endswith(b"\n")
    assert b"session_closed" in lines.splitlines()[-1]
