"""One WebRTC call through ``voxpipe serve``: an aiortc caller posts its offer, speaks a
turn and hears the echo engine's reply; a second offer meanwhile is refused (503,
``--max-sessions 1``); ``/metrics`` counts the call; SIGTERM with the call live exits 0
with the call's recording finalized in ``--record DIR/<session-id>/`` (a call's session
takes the call's ``pc_id`` as its id)."""

from __future__ import annotations

import asyncio
import json
import signal
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
from aiohttp import ClientSession
from scipy.signal import resample_poly

from pipeline.record.event_log import read_event_log
from tests.serve.harness import ServeProcess
from tests.transports.web.client import WebCaller
from tests.transports.web.signal_match import best_correlation, envelope_ncc, locate

ROOT = Path(__file__).resolve().parents[2]
THREE_TURNS = ROOT / "examples" / "audio" / "three_turns.wav"
LABELS = json.loads((ROOT / "examples" / "audio" / "three_turns.json").read_text())
PAD_S = 0.3  # room tone kept either side of the turn


def first_turn(out: Path) -> tuple[Path, npt.NDArray[np.float64], int]:
    """The first turn of the three-turn call (with room tone) as its own WAV; the turn's
    samples as floats, and their rate."""
    turn = LABELS["turns"][0]
    with wave.open(str(THREE_TURNS)) as src:
        rate = src.getframerate()
        src.setpos(int((turn["onset_s"] - PAD_S) * rate))
        pcm = src.readframes(int((turn["duration_s"] + 2 * PAD_S) * rate))
        with wave.open(str(out), "wb") as dst:
            dst.setparams(src.getparams())
            dst.writeframes(pcm)
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    said = x[int(PAD_S * rate) : int((PAD_S + turn["duration_s"]) * rate)]
    return out, said, rate


async def _call_then_sigterm(server: ServeProcess, tmp: Path) -> tuple[WebCaller, int]:
    wav, said, rate = first_turn(tmp / "turn.wav")
    caller = WebCaller(wav)
    try:
        async with ClientSession() as http:
            async with http.post(f"{server.url}/api/offer", json=await caller.offer_body()) as res:
                reply = await res.json()
                assert res.status == 200, reply
            assert set(reply) >= {"sdp", "type", "pc_id"} and reply["type"] == "answer"
            await caller.accept(reply)
            # The call is live and the server holds one at most: the next offer is refused.
            other = WebCaller(wav)
            async with http.post(f"{server.url}/api/offer", json=await other.offer_body()) as res:
                assert res.status == 503, await res.text()
            await other.close()
        heard = await caller.wait_for_reply(timeout_s=30.0)
        metrics = await asyncio.to_thread(server.metrics)
        assert metrics["voxpipe_calls_total"] == 1
        assert metrics["voxpipe_calls_active"] == 1
        assert metrics["voxpipe_calls_refused_total{reason=full}"] == 1
        # The stages' own counters: the edge has sent the call's frames on to dsp.
        assert metrics["voxpipe_stage_events_total{counter=frames_out,stage=edge}"] > 0
        assert metrics["voxpipe_stage_events_total{counter=frames_in,stage=dsp}"] > 0
        # The echo of the user's turn, through Opus both ways, at the turn's rate.
        assert rate == 16_000
        # Opus both ways keeps the waveform only roughly (a jitter buffer may stretch it):
        # find the echo by its envelope, then the envelopes must match.
        heard16 = resample_poly(heard, 1, 3)
        half_s = len(heard16) / rate / 2
        at = round(locate(heard16, said, rate, half_s, half_s) * rate)
        echo = heard16[at : at + len(said)]
        env = envelope_ncc(echo, said, rate) if len(echo) == len(said) else 0.0
        print(f"echo: envelope {env:.3f}, waveform {best_correlation(heard16, said):.3f}")
        assert env >= 0.8, f"the reply's envelope correlates {env:.3f} with the user's turn"
        # SIGTERM with the call still live (the caller keeps sending).
        code = await asyncio.to_thread(server.stop, signal.SIGTERM)
    finally:
        await caller.close()
    return caller, code


def test_a_call_hears_the_echo_and_sigterm_finalizes_its_recording(tmp_path: Path) -> None:
    record_dir = tmp_path / "calls"
    with ServeProcess("--max-sessions", "1", "--record", str(record_dir)) as server:
        caller, code = asyncio.run(_call_then_sigterm(server, tmp_path))
    assert code == 0, server.output
    record = record_dir / caller.pc_id
    assert (record / "conversation.wav").is_file(), sorted(record_dir.rglob("*"))
    with wave.open(str(record / "conversation.wav")) as w:
        assert w.getnchannels() == 2 and w.getnframes() > 0
    events = read_event_log(record / "events.jsonl")
    assert events[-1]["type"] == "session_closed"
    assert any(e["type"] == "agent_started_speaking" for e in events)
    assert {e["session"] for e in events} == {caller.pc_id}  # one name for the call
