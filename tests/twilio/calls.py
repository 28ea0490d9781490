"""What the Twilio simulations share: the speech they say, the waits for a call's end
and its counters (the server itself is ``conftest.py``'s, one for the package)."""

from __future__ import annotations

import asyncio
import json
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.signal import resample_poly

from pipeline.record.event_log import read_event_log
from tests.serve.harness import ServeProcess
from tests.twilio.far_end import RATE, TwilioFarEnd

ROOT = Path(__file__).resolve().parents[2]
THREE_TURNS = ROOT / "examples" / "audio" / "three_turns.wav"
LABELS = json.loads((ROOT / "examples" / "audio" / "three_turns.json").read_text())
TOKEN = "s3cret"
PAD_S = 0.3
# One playout frame at the output rate (24 kHz, 20 ms): the truncation's resolution.
FRAME_24K = 480
CALL_TIMEOUT_S = 60.0


def turn_8k(index: int) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.float64]]:
    """Turn ``index`` of the three-turn call at 8 kHz: with room tone either side (to
    say), and the turn alone as floats (to find in what comes back)."""
    turn = LABELS["turns"][index]
    with wave.open(str(THREE_TURNS)) as src:
        rate = src.getframerate()
        src.setpos(int((turn["onset_s"] - PAD_S) * rate))
        pcm = np.frombuffer(src.readframes(int((turn["duration_s"] + 2 * PAD_S) * rate)), "<i2")
    x8 = resample_poly(pcm.astype(np.float64), RATE, rate)
    said = np.clip(np.round(x8), -32768, 32767).astype(np.int16)
    core = said[int(PAD_S * RATE) : int((PAD_S + turn["duration_s"]) * RATE)]
    return said, core.astype(np.float64) / 32768.0


def silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def new_record(record: Path, before: set[Path]) -> Path:
    found = set(record.glob("tw-*")) - before
    assert len(found) == 1, sorted(record.glob("*"))
    return found.pop()


def wait_closed(folder: Path, timeout_s: float = CALL_TIMEOUT_S) -> list[dict[str, Any]]:
    """The call's events once its session closed (recording finalized)."""
    deadline = time.monotonic() + timeout_s
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        path = folder / "events.jsonl"
        events = read_event_log(path) if path.exists() else []
        if events and events[-1]["type"] == "session_closed":
            return events
        time.sleep(0.1)
    raise AssertionError(f"the session did not close: {[e['type'] for e in events][-10:]}")


def turns(events: list[dict[str, Any]]) -> list[str]:
    """The call's speech and glitch events, in short (for a failure's message)."""
    kinds = ("user_started_speaking", "user_stopped_speaking", "agent_started_speaking",
             "agent_stopped_speaking", "playout_glitch")
    return [f"{e['t_ms']:.0f}:{e['type']}{'(cut)' if e.get('interrupted') else ''}"
            for e in events if e["type"] in kinds]


def edge_counters(srv: ServeProcess, until: str, timeout_s: float = 10.0) -> dict[str, float]:
    """The edge's ``conn.*`` counters from ``/metrics``, once ``until`` shows (a call's
    connection counters are added when the edge closes it)."""
    deadline = time.monotonic() + timeout_s
    prefix = "voxpipe_stage_events_total{counter=conn."
    while True:
        found = {k[len(prefix):].split(",")[0]: v for k, v in srv.metrics().items()
                 if k.startswith(prefix) and "stage=edge" in k}
        if until in found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


async def say_and_hear(fe: TwilioFarEnd, said: npt.NDArray[np.int16], reply_samples: int) -> None:
    """Say the turn, then room tone until ``reply_samples`` of the reply came back."""
    await fe.say(said)
    hearing = asyncio.create_task(fe.wait_for(reply_samples, CALL_TIMEOUT_S))
    while not hearing.done():
        await fe.say(silence(0.2))
    await hearing
