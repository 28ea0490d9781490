"""A phone call's media through all the processes: the SIP transport's edge half, with a
test RTP peer as the phone (no SIP signalling: the spec is what the UAS would build).

The peer speaks the three-turn call as G.711 at 20 ms pace, presses a key between the
turns, then falls silent and stops sending: the call ends on the media timeout, as
when a caller vanishes. The echo engine's replies must be in what the peer received,
after G.711 both ways, and the key press must be on the record.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np

from ipc.schema import DtmfReceived, RtpReady, SipTransport, StageEvent
from native import g711
from pipeline.record.event_log import read_event_log
from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from pipeline.supervisor.session import SessionSpec
from tests.pipeline.audio_checks import read_mono
from tests.pipeline.test_end_to_end import FAST_HEARTBEAT
from tests.transports.rtp.peer import RtpPeer
from tests.transports.web.signal_match import best_correlation

RATE = 8000
TAIL_SILENCE_S = 1.5
KEY = 11  # '#'


def pcm8k(x: np.ndarray) -> bytes:
    return np.asarray(np.clip(np.round(x * 32768), -32768, 32767), "<i2").tobytes()


async def run_call(model_url: str, speech: bytes, press_at: int, out: Path
                   ) -> tuple[Any, RtpPeer, dict[str, int]]:
    peer = RtpPeer("PCMU", dtmf_payload_type=101)
    host, port = await peer.start()
    spec = SipTransport("sip-rtp-e2e", host, port, dtmf_payload_type=101, media_timeout_s=1.0)
    try:
        async with Runtime(RuntimeOptions(arbiter=FAST_HEARTBEAT)) as rt:
            session = rt.start_session(SessionSpec(spec, out_dir=out, model_url=model_url))
            ready: asyncio.Future[RtpReady] = asyncio.get_running_loop().create_future()
            presses: list[StageEvent] = []

            def on_event(ev: StageEvent) -> None:
                if isinstance(ev.event, RtpReady) and not ready.done():
                    ready.set_result(ev.event)
                elif isinstance(ev.event, DtmfReceived):
                    presses.append(ev)

            session.on(on_event)
            rtp = await asyncio.wait_for(ready, 30)
            peer.remote = (rtp.host, rtp.port)
            await peer.play(speech[: 2 * press_at])
            peer.press(KEY, 100)
            await peer.play(speech[2 * (press_at + 800) :])
            summary = await asyncio.wait_for(session.closed, 60)
            edge = (await rt.stage_stats())["edge"].counters
    finally:
        peer.close()
    assert [ev.stage for ev in presses] == ["playout"]  # once, from the record
    return summary, peer, edge


def test_sip_call_echoes_each_turn_and_records_the_key_press(
        model_url: str, three_turns: Any, tmp_path: Path) -> None:
    wav, labels = three_turns
    said = np.concatenate([read_mono(wav, RATE), np.zeros(int(TAIL_SILENCE_S * RATE))])
    speech = pcm8k(said)
    turns = labels["turns"]
    press_at = int((turns[0]["offset_s"] + turns[1]["onset_s"]) / 2 * RATE)
    summary, peer, edge = asyncio.run(run_call(model_url, speech, press_at, tmp_path / "call"))

    print("edge counters", edge)
    assert summary.error is None and len(summary.turns) == 3
    # The phone heard each turn echoed (the caller's G.711 copy, through the agent and
    # back as G.711).
    heard = np.frombuffer(peer.received_audio().tobytes(), "<i2") / 32768.0
    sent = np.frombuffer(g711.ulaw_decode(g711.ulaw_encode(speech)), "<i2") / 32768.0
    for i, turn in enumerate(turns):
        seg = sent[int(turn["onset_s"] * RATE) : int(turn["offset_s"] * RATE)]
        score = best_correlation(heard, seg)
        print(f"turn {i}: xcorr {score:.3f}")
        assert score >= 0.8, f"turn {i}: echo xcorr {score:.3f}"
    assert peer.remote is not None and peer.sources == {peer.remote}
    assert peer.malformed == 0 and peer.received[0].marker
    # The key press is on the record, once; the call ended on the media timeout.
    events = read_event_log(summary.events)
    kinds = [e["type"] for e in events]
    presses = [e for e in events if e["type"] == "dtmf_received"]
    assert [(e["digit"], e["code"], e["duration_ms"]) for e in presses] == [("#", KEY, 100)]
    assert kinds[0] == "session_started" and kinds[-1] == "session_closed"
    assert edge["conn.dtmf_presses"] == 1 and edge["conn.packets_out"] > 0
    assert edge["conn.packets_in"] >= len(speech) // 320
    assert not [k for k in edge if k.startswith(("conn.packets_malformed",
                                                 "conn.packets_wrong_source"))], edge
    assert summary.wav is not None and summary.wav.exists()
