"""One WebRTC call through ``voxpipe serve``: an aiortc caller posts its offer, speaks a
turn and hears the echo engine's reply; a second offer meanwhile is refused (503,
``--max-sessions 1``); ``/metrics`` counts the call; SIGTERM with the call live exits 0
with the call's recording finalized in ``--record DIR/<pc_id>/``."""

from __future__ import annotations

import asyncio
import json
import signal
import wave
from pathlib import Path

from aiohttp import ClientSession
from scipy.signal import resample_poly

from pipeline.record.event_log import read_event_log
from tests.serve.harness import ServeProcess
from tests.transports.web.client import RATE, WebCaller, best_correlation, speech_at_48k

ROOT = Path(__file__).resolve().parents[2]
THREE_TURNS = ROOT / "examples" / "audio" / "three_turns.wav"
LABELS = json.loads((ROOT / "examples" / "audio" / "three_turns.json").read_text())


async def _call_then_sigterm(server: ServeProcess) -> tuple[WebCaller, int]:
    turn = LABELS["turns"][0]
    # The first turn with a little room tone either side.
    speech = speech_at_48k(THREE_TURNS, turn["onset_s"] - 0.3, turn["offset_s"] + 0.3)
    said = speech[int(0.3 * RATE) : int((0.3 + turn["duration_s"]) * RATE)]
    caller = WebCaller(speech)
    try:
        async with ClientSession() as http:
            async with http.post(f"{server.url}/api/offer", json=await caller.offer()) as res:
                reply = await res.json()
                assert res.status == 200, reply
            assert set(reply) >= {"sdp", "type", "pc_id"} and reply["type"] == "answer"
            await caller.accept(reply)
            # The call is live and the server holds one at most: the next offer is refused.
            other = WebCaller(speech)
            async with http.post(f"{server.url}/api/offer", json=await other.offer()) as res:
                assert res.status == 503, await res.text()
            await other.close()
        heard = await caller.wait_for_reply(timeout_s=30.0)
        metrics = await asyncio.to_thread(server.metrics)
        assert metrics["voxpipe_calls_total"] == 1
        assert metrics["voxpipe_calls_active"] == 1
        assert metrics["voxpipe_calls_refused_total"] == 1
        # The echo of the user's turn, through Opus both ways, compared at 16 kHz.
        ncc = best_correlation(resample_poly(heard.astype(float), 1, 3),
                               resample_poly(said.astype(float), 1, 3))
        assert ncc >= 0.8, f"the reply correlates {ncc:.3f} with the user's turn"
        # SIGTERM with the call still live (the caller keeps sending).
        code = await asyncio.to_thread(server.stop, signal.SIGTERM)
    finally:
        await caller.close()
    return caller, code


def test_a_call_hears_the_echo_and_sigterm_finalizes_its_recording(tmp_path: Path) -> None:
    with ServeProcess("--max-sessions", "1", "--record", str(tmp_path)) as server:
        caller, code = asyncio.run(_call_then_sigterm(server))
    assert code == 0, server.output
    record = tmp_path / caller.pc_id
    assert (record / "conversation.wav").is_file(), sorted(tmp_path.rglob("*"))
    with wave.open(str(record / "conversation.wav")) as w:
        assert w.getnchannels() == 2 and w.getnframes() > 0
    events = read_event_log(record / "events.jsonl")
    assert events[-1]["type"] == "session_closed"
    assert any(e["type"] == "agent_started_speaking" for e in events)
