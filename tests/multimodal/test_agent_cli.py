"""`voxpipe run --agent examples/weather_agent.py`: the README's agent, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, *args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", *args, "--log-level", "INFO"],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_example_agent_holds_the_three_turn_call(tmp_path: Path) -> None:
    out = tmp_path / "call"
    proc = _run(tmp_path, "--agent", "examples/weather_agent.py",
                "--input", "examples/audio/three_turns.wav", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    kinds = [r["type"] for r in records]
    states = [r["attributes"]["lk.agent.state"] for r in records
              if r["type"] == "participant_attributes"]
    # initializing first, then the full cycle, in order, for the weather turn at least.
    assert states[0] == "initializing", states
    assert {"listening", "thinking", "speaking"} <= set(states), states
    calls = [r for r in records if r["type"] == "function_call"]
    assert [c["name"] for c in calls] == ["get_weather"], calls
    assert json.loads(calls[0]["arguments"]) == {"location": "Paris"}
    # The tool's answer is spoken after the call: an agent item starts after it.
    t_call = calls[0]["t_ms"]
    assert any(r["type"] == "agent_started_speaking" and r["t_ms"] > t_call for r in records)
    finals = [r["text"] for r in records if r["type"] == "agent_transcription" and r["final"]]
    assert any("Paris" in text for text in finals), finals
    assert kinds.count("user_transcription") >= 3
    # The log lines the example's handlers wrote (logs go to stdout).
    assert "user said:" in proc.stdout and "tool get_weather" in proc.stdout


def test_agent_file_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad_agent.py"
    bad.write_text("def entrypoint(ctx):\n    pass\n")
    proc = _run(tmp_path, "--agent", str(bad), "--input", "examples/audio/three_turns.wav",
                "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"voxpipe: error: agent file {bad} must define 'async def entrypoint(ctx)'")
    missing = _run(tmp_path, "--agent", str(tmp_path / "nope.py"), "--input",
                   "examples/audio/three_turns.wav", "--out", str(tmp_path / "o"))
    assert missing.returncode == 2 and "agent file not found" in missing.stderr
