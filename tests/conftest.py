"""Shared fixtures: the offline model server, example audio, and timeline helpers."""

from __future__ import annotations

import json
import os
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ipc.protocol_trace import TRACE_ENV
from pipeline.model_server.launcher import ModelServerProcess
from tests.protocol_trace_check import check_trace_dir

ROOT = Path(__file__).resolve().parent.parent

# Admission control measures this machine, which the suite shares with whatever else
# runs: no test may be refused because the host was busy. Tests of admission set their
# limits explicitly (RuntimeOptions.admission, or VOXPIPE_ADMISSION for a CLI run).
os.environ.setdefault("VOXPIPE_ADMISSION", "off")
# One process per stage whatever the host's cores (the default shards dsp and model on a
# host with 8+): tests that shard say so (RuntimeOptions.workers, --workers).
os.environ.setdefault("VOXPIPE_WORKERS", "off")
EXAMPLES = ROOT / "examples" / "audio"


# Test modules whose every test opens model-server sessions: each such test must leave at
# least one server event in the trace, or the tracing itself broke.
_TRACED_MODULES = (
    "test_local_server.py", "test_local_server_vad.py", "test_faults.py",
    "test_protocol_complete.py",
)


# The modules of the tests this process ran (under pytest-xdist a worker runs only some
# of the collected tests, so the collection does not say which).
_RAN_MODULES: list[str] = []


@pytest.fixture(autouse=True)
def _note_module(request: pytest.FixtureRequest) -> None:
    _RAN_MODULES.append(request.node.path.name)


@pytest.fixture(scope="session", autouse=True)
def protocol_trace(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """Record every Realtime event of the run, then validate all against the `openai` types.

    Autouse and session-scoped, so the variable is set before any server or pipeline
    process starts; children inherit it.
    """
    preset = os.environ.get(TRACE_ENV)
    trace_dir = Path(preset) if preset else tmp_path_factory.mktemp("protocol-trace")
    os.environ[TRACE_ENV] = str(trace_dir)
    yield trace_dir
    if not preset:
        del os.environ[TRACE_ENV]
    report = check_trace_dir(trace_dir)
    assert not report.invalid, report.summary()
    traced_tests = sum(name in _TRACED_MODULES for name in _RAN_MODULES)
    if not request.session.testsfailed:
        server_events = sum(n for k, n in report.checked.items() if k.startswith("server/"))
        assert server_events >= traced_tests, report.summary()


@pytest.fixture(scope="session")
def model_url() -> Iterator[str]:
    """The bundled offline model server (echo engine), on loopback, for the whole test run."""
    with ModelServerProcess(["--engine", "echo"]) as server:
        yield server.url


# Where the three-turn call is cut: the third turn ends at 15.3 s and its echo has played
# by ~18.2 s, past the input's end (+1.5 s of tail silence); the file's last 2.9 s of room
# tone only kept each full-call test waiting.
THREE_TURNS_CUT_S = 17.0


@pytest.fixture(scope="session")
def three_turns(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The bundled three-turn call (cut at THREE_TURNS_CUT_S) and its turn labels."""
    labels = json.loads((EXAMPLES / "three_turns.json").read_text())
    assert labels["turns"][-1]["offset_s"] < THREE_TURNS_CUT_S - 1.0
    wav = tmp_path_factory.mktemp("audio") / "three_turns.wav"
    with wave.open(str(EXAMPLES / "three_turns.wav")) as src, wave.open(str(wav), "wb") as dst:
        dst.setparams(src.getparams())
        dst.writeframes(src.readframes(int(THREE_TURNS_CUT_S * src.getframerate())))
    return wav, labels
