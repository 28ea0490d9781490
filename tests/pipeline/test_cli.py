"""The command line: help, and every way a run can fail — one line, non-zero, no leftovers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from pipeline.model_server.launcher import ModelServerProcess

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "audio" / "three_turns.wav"


# Every process a ``voxpipe`` call of this test run starts inherits this mark, so the
# leak check finds exactly those (other tests, or other runs, may share the host).
RUN_MARK = ("VOXPIPE_TEST_RUN", uuid.uuid4().hex)


def voxpipe(*args: str, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {}), RUN_MARK[0]: RUN_MARK[1]})


def stage_processes_since(t0: float) -> list[str]:
    """voxpipe processes that a ``voxpipe`` call of this test started since t0 and that
    are still there."""
    found = []
    for p in psutil.process_iter(["cmdline", "create_time"]):
        if p.info["create_time"] < t0 - 1:
            continue
        try:
            mine = p.environ().get(RUN_MARK[0]) == RUN_MARK[1]
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        cmd = " ".join(p.info["cmdline"] or [])
        if mine and ("voxpipe: " in cmd or "pipeline.stages" in cmd
                     or "pipeline.model_server" in cmd):
            found.append(cmd)
    return found


def assert_one_line_error(res: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert res.returncode == code, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("voxpipe: error:")]
    assert len(errors) == 1, res.stderr
    assert words in errors[0], errors[0]


def test_help_names_every_command_and_option() -> None:
    top = voxpipe("--help")
    assert top.returncode == 0 and "run" in top.stdout and "model-server" in top.stdout
    run = voxpipe("run", "--help")
    for opt in ("--input", "--out", "--model", "--fast", "--base-url"):
        assert opt in run.stdout
    server = voxpipe("model-server", "--help")
    assert server.returncode == 0 and "--port" in server.stdout and "--api-key" in server.stdout


@pytest.mark.parametrize(("make", "words"), [
    (lambda d: d / "missing.wav", "input not found"),
    (lambda d: (d / "text.wav").write_text("hello") and d / "text.wav", "not a RIFF/WAVE"),
    (lambda d: (d / "empty.wav").write_bytes(b"") or d / "empty.wav", "cannot use input"),
])
def test_bad_input_is_one_line(tmp_path: Path, make: object, words: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    t0 = time.time()
    res = voxpipe("run", "--input", str(path), "--out", str(tmp_path / "out"))
    assert_one_line_error(res, 2, words)
    assert stage_processes_since(t0) == []


def test_openai_without_key_is_one_line(tmp_path: Path) -> None:
    res = voxpipe("run", "--input", str(EXAMPLE), "--out", str(tmp_path), "--model", "openai",
                  env={"OPENAI_API_KEY": ""})
    assert_one_line_error(res, 2, "OPENAI_API_KEY")


def test_unreachable_model_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    t0 = time.time()
    res = voxpipe("run", "--input", str(EXAMPLE), "--out", str(tmp_path),
                  "--base-url", "ws://127.0.0.1:9/v1/realtime")
    assert_one_line_error(res, 1, "cannot reach the model at ws://127.0.0.1:9")
    time.sleep(0.3)
    assert stage_processes_since(t0) == []


def test_rejected_key_is_one_line(tmp_path: Path) -> None:
    with ModelServerProcess(["--api-key", "right-key"]) as server:
        base = server.url.rsplit("/realtime", 1)[0]
        t0 = time.time()
        res = voxpipe("run", "--input", str(EXAMPLE), "--out", str(tmp_path), "--model",
                      "openai", "--base-url", base, env={"OPENAI_API_KEY": "wrong-key"})
    assert_one_line_error(res, 1, "rejected the API key (HTTP 401)")
    time.sleep(0.3)
    assert stage_processes_since(t0) == []


def test_openai_path_holds_a_conversation_with_a_key(tmp_path: Path) -> None:
    """--model openai end to end: key header, ?model= URL, GA events — against the
    offline server standing in for the unreachable API."""
    one_turn = ROOT / "examples" / "audio" / "one_turn_48k_stereo.wav"
    with ModelServerProcess(["--api-key", "sk-test"]) as server:
        base = server.url.rsplit("/realtime", 1)[0]
        res = voxpipe("run", "--input", str(one_turn), "--out", str(tmp_path), "--model",
                      "openai", "--base-url", base, env={"OPENAI_API_KEY": "sk-test"})
    assert res.returncode == 0, res.stderr
    assert "turns: 1" in res.stdout and "first agent audio after" in res.stdout
    assert (tmp_path / "conversation.wav").stat().st_size > 44


def test_unwritable_output_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    res = voxpipe("run", "--input", str(EXAMPLE), "--out", str(blocker / "out"))
    assert_one_line_error(res, 2, "cannot write to output directory")
