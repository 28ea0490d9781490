"""livekit-agents 0.12's ``examples/multimodal-agent/gemini_agent.py``, with only its two
import prefixes changed, holds its conversation under ``voxpipe run --agent`` against the
fake Gemini Live server, pointed there by the environment alone (``GOOGLE_API_KEY``,
``GOOGLE_GEMINI_BASE_URL`` as the google-genai SDK reads it, ``SSL_CERT_FILE``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pipeline.agents
from tests.multimodal.agent_harness import script_wav
from tests.providers.gemini.fake_server import FakeGemini
from tests.providers.gemini.script import Reply

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "tests" / "ports" / "gemini_agent.py"
NEEDED = ("AutoSubscribe", "JobContext", "WorkerOptions", "WorkerType", "cli", "llm",
          "multimodal")


def _missing() -> list[str]:
    missing = []
    for name in NEEDED:
        try:
            getattr(pipeline.agents, name)
        except (AttributeError, ImportError):
            missing.append(name)
    return missing


# The example greets first (generate_reply), then answers the user; its weather tool
# is never called (it would fetch from the internet).
SCRIPT = [
    Reply(heard="", say="Hello! Where are you planning to travel?", tone_hz=440.0),
    Reply(heard="hello can you hear me", say="Yes, I hear you. Paris is lovely.",
          tone_hz=550.0),
]


@pytest.mark.skipif(bool(_missing()), reason=f"pipeline.agents lacks {_missing()} (porting "
                    "names of issue 14, another branch)")
def test_livekit_gemini_example_holds_its_conversation(tmp_path: Path) -> None:
    script_wav(tmp_path / "in.wav", [(3.0, "hello")], total_s=7.0)
    out = tmp_path / "call"
    with FakeGemini(SCRIPT) as fake:
        env = dict(os.environ, GOOGLE_API_KEY=fake.api_key,
                   GOOGLE_GEMINI_BASE_URL=fake.base_url,
                   SSL_CERT_FILE=str(fake.write_ca(tmp_path / "ca.pem")))
        proc = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "run", "--agent", str(AGENT), "--input",
             str(tmp_path / "in.wav"), "--out", str(out), "--log-level", "INFO"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    finals = [r["text"].split() for r in records
              if r["type"] == "agent_transcription" and r["final"]]
    assert finals == [r.say.split() for r in SCRIPT]
    users = [r["text"].split() for r in records
             if r["type"] == "user_transcription" and r["final"]]
    assert users == [SCRIPT[1].heard.split()]
    assert [r["type"] for r in records].count("agent_started_speaking") == 2
    setup = fake.setups[0]
    assert setup["generationConfig"]["temperature"] == 0.8
    assert setup["generationConfig"]["speechConfig"]["voiceConfig"][
        "prebuiltVoiceConfig"]["voiceName"] == "Puck"
    assert "trip planning" in setup["systemInstruction"]["parts"][0]["text"]
    assert [d["name"] for d in setup["tools"][0]["functionDeclarations"]] == ["get_weather"]
    assert fake.connections == 1 and fake.refused == []
