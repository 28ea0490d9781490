"""livekit-agents 0.12's own example agents, ported by changing two import prefixes.

``originals/<name>.py`` are verbatim copies of upstream files; ``<name>.py`` beside this
test are the ports. Sources (github.com/livekit/agents, tag ``livekit-agents@0.12.21``):

* ``openai_agent.py``: ``examples/multimodal-agent/openai_agent.py``. It is also 0.12's
  only example running ``MultimodalAgent`` with an ``llm.FunctionContext`` (its
  ``get_weather`` tool), so it is the function-call port too; the other examples with
  function calls run ``VoicePipelineAgent``.
* ``conversation_persistor.py``: ``examples/conversation_persistor.py``, the other 0.12
  example on ``MultimodalAgent``: its own ``utils.EventEmitter[EventTypes]`` (imported
  from ``multimodal.multimodal_agent``), handlers taking fewer arguments than their
  events carry, and the agent's ``_playing_handle._tr_fwd.played_text``.

``from livekit import rtc`` lines (0.12's rtc package is installed) would stay as they
are: only ``livekit.agents`` -> ``pipeline.agents`` and ``livekit.plugins`` ->
``pipeline.plugins`` change. The ports run unmodified against the offline model server,
pointed there by ``OPENAI_BASE_URL`` alone.
"""

from __future__ import annotations

import difflib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pipeline.model_server.launcher import ModelServerProcess

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ORIGINALS = HERE / "originals"
PREFIXES = {"livekit.agents": "pipeline.agents", "livekit.plugins": "pipeline.plugins"}
_IMPORT = re.compile(r"^from (livekit|pipeline)\.(agents|plugins)(\.[\w.]+)? import ")


def _ports() -> list[str]:
    return sorted(p.name for p in ORIGINALS.glob("*.py"))


def test_every_port_differs_from_its_original_in_import_prefixes_only() -> None:
    ports = sorted(p.name for p in HERE.glob("*.py")
                   if not p.name.startswith(("test_", "__")))
    assert ports == _ports() and {"openai_agent.py", "conversation_persistor.py"} <= set(ports)
    for name in ports:
        original = (ORIGINALS / name).read_text().splitlines()
        port = (HERE / name).read_text().splitlines()
        assert len(original) == len(port), name
        changed = [(a, b) for a, b in zip(original, port, strict=True) if a != b]
        assert changed, f"{name}: identical to its original"
        for before, after in changed:
            assert _IMPORT.match(before) and before.startswith("from livekit."), (name, before)
            expected = before
            for old, new in PREFIXES.items():
                expected = expected.replace(f"from {old}", f"from {new}", 1)
            assert after == expected, (name, before, after)
        # difflib agrees: nothing but those lines.
        diff = [d for d in difflib.ndiff(original, port) if d[:1] in "+-"]
        assert len(diff) == 2 * len(changed), name


class _WeatherStub(http.server.BaseHTTPRequestHandler):
    """wttr.in's ``?format=%C+%t`` answer, on 127.0.0.1 (see offline_web/sitecustomize.py)."""

    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.paths.append(self.path)
        body = "Sunny +21°C".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def weather_stub() -> Iterator[tuple[str, list[str]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WeatherStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _WeatherStub.paths = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _WeatherStub.paths
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def dialogue_base_url() -> Iterator[str]:
    """``OPENAI_BASE_URL`` of an offline server with the dialogue engine (http, as users
    write it for the OpenAI SDK; the plugin turns it into ws)."""
    with ModelServerProcess(["--engine", "dialogue"]) as server:
        yield server.url.replace("ws://", "http://").removesuffix("/realtime")


def _env(base_url: str, stub_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_"))}
    env.update(OPENAI_BASE_URL=base_url, VOXPIPE_TEST_WTTR_URL=stub_url,
               PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE / "offline_web")]))
    return env


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


def test_openai_agent_holds_the_three_turn_call(
    tmp_path: Path, three_turns: tuple[Path, dict[str, Any]], dialogue_base_url: str,
    weather_stub: tuple[str, list[str]],
) -> None:
    wav, _ = three_turns
    stub_url, stub_paths = weather_stub
    out = tmp_path / "call"
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--agent", str(HERE / "openai_agent.py"),
         "--input", str(wav), "--out", str(out)],
        cwd=tmp_path, env=_env(dialogue_base_url, stub_url), capture_output=True, text=True,
        timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = _records(out)
    # generate_reply() right after start: the agent greets before the caller speaks.
    first_agent = next(r["t_ms"] for r in records if r["type"] == "agent_started_speaking")
    first_user = next(r["t_ms"] for r in records if r["type"] == "user_started_speaking")
    assert first_agent < first_user
    calls = [r for r in records if r["type"] == "function_call"]
    assert [c["name"] for c in calls] == ["get_weather"], calls
    assert json.loads(calls[0]["arguments"]) == {"location": "Paris"}
    # The tool really ran: its web request reached the stub, for Paris.
    assert [p.split("?")[0] for p in stub_paths] == ["/Paris"], stub_paths
    # The reply after the call speaks its result, whether it played to its end (a final
    # transcription) or the caller's next turn cut it (what was said, on its stop).
    spoken = [r for r in records if r["type"] == "agent_stopped_speaking"
              or (r["type"] == "agent_transcription" and r["final"])]
    after_call = [r["text"] for r in spoken if r["t_ms"] > calls[0]["t_ms"]]
    assert any("Paris" in text for text in after_call), spoken
    users = [r["text"] for r in records if r["type"] == "user_transcription" and r["final"]]
    assert len(users) >= 3 and "weather" in users[1].lower(), users


def test_openai_agent_runs_in_console_mode(
    tmp_path: Path, dialogue_base_url: str, weather_stub: tuple[str, list[str]],
) -> None:
    """``python openai_agent.py console --input IN.wav --out DIR``: its own ``__main__``
    (``cli.run_app(WorkerOptions(...))``) runs one call on the file road."""
    out = tmp_path / "console"
    proc = subprocess.run(
        [sys.executable, str(HERE / "openai_agent.py"), "console", "--input",
         str(ROOT / "examples" / "audio" / "one_turn_48k_stereo.wav"), "--out", str(out)],
        cwd=tmp_path, env=_env(dialogue_base_url, weather_stub[0]), capture_output=True,
        text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    kinds = [r["type"] for r in _records(out)]
    assert kinds.count("agent_started_speaking") >= 2, kinds  # the greeting and an answer
    assert "user_transcription" in kinds


def test_conversation_persistor_logs_the_call(
    tmp_path: Path, three_turns: tuple[Path, dict[str, Any]], dialogue_base_url: str,
    weather_stub: tuple[str, list[str]],
) -> None:
    """Its ``ConversationPersistor`` writes every agent event and the agent's heard text
    to ``log.txt`` (in the working directory) as the call goes."""
    wav, _ = three_turns
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--agent",
         str(HERE / "conversation_persistor.py"), "--input", str(wav), "--out",
         str(tmp_path / "call")],
        cwd=tmp_path, env=_env(dialogue_base_url, weather_stub[0]), capture_output=True,
        text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = (tmp_path / "log.txt").read_text().splitlines()
    events = [line.split(" ", 2)[2] for line in lines if line.count(" ") >= 2]
    for name in ("user_started_speaking", "user_stopped_speaking", "agent_started_speaking",
                 "agent_stopped_speaking", "agent_speech_committed"):
        assert name in events, (name, lines)
    assert events.count("user_started_speaking") == 3, lines
    # What the agent was heard saying, taken from its playing handle's transcript.
    heard = [e.removeprefix("agent ") for e in events if e.startswith("agent ")
             and not e.startswith(("agent_",))]
    assert len(heard) >= 3 and all(heard), lines
    records = _records(tmp_path / "call")
    finals = {r["text"].strip() for r in records
              if r["type"] == "agent_transcription" and r["final"]}
    assert any(text[:20] in " ".join(finals) for text in heard), (heard, finals)
