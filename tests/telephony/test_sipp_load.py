"""20 concurrent SIPp calls with RTP (soak: excluded from the default run): each says
one turn and hears the echo engine's reply. Every call is answered, and every reply is
whole **as the caller received it**: the RTP on the loopback wire (``wire.py``, root
only) holds each turn's echo with no silent or lost 20 ms frame, and playout's own
glitch counter agrees. Each recording's agent channel holds the echo too, and the CPU
each stage spent per call is printed for the closing note."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from tests.telephony.conftest import start_sip_server
from tests.telephony.sipp import run_scenario
from tests.telephony.test_baresip import read_wav
from tests.telephony.test_sipp import caller_turn, settled
from tests.telephony.wire import LoopbackCapture, reply_heard, streams
from tests.transports.web.signal_match import best_correlation

CALLS = 20


def cpu_by_stage(metrics: dict[str, float]) -> dict[str, float]:
    found = {}
    for name, value in metrics.items():
        m = re.fullmatch(r"voxpipe_stage_cpu_seconds_total\{stage=(\w+)\}", name)
        if m:
            found[m.group(1)] = value
    return found


@pytest.mark.soak
def test_twenty_concurrent_sipp_calls_hear_whole_replies(sipp: Path, tmp_path: Path) -> None:
    server = start_sip_server(tmp_path / "calls", "--max-sessions", str(CALLS),
                              "--admission", "off")
    try:
        turn = caller_turn(tmp_path / "caller.ulaw")
        before = server.process.metrics()
        try:
            capture = LoopbackCapture()
        except PermissionError as exc:
            pytest.fail(str(exc))
        with capture:
            run = run_scenario(sipp, "load", server.address, tmp_path, timeout_s=120,
                               calls=CALLS, extra=("-l", str(CALLS), "-r", str(CALLS)))
        assert run.returncode == 0, run.output
        assert settled(server, "voxpipe_calls_active", 0.0) == 0.0
        after = server.process.metrics()
    finally:
        server.process.stop()
    assert after["voxpipe_calls_total"] - before["voxpipe_calls_total"] == CALLS
    glitches = {k: v for k, v in after.items() if k.startswith("voxpipe_glitch_frames")}
    assert glitches and sum(glitches.values()) == 0, glitches
    ports = run.answer_ports()
    assert len(ports) == CALLS, ports
    received = streams(capture.datagrams, ports)
    assert set(received) == ports, f"no RTP from {ports - set(received)}"
    heard = {port: reply_heard(stream, turn) for port, stream in received.items()}
    print("on the wire, per call (xcorr, glitched/frames, lost packets):",
          [(f"{h.xcorr:.3f}", f"{h.glitched_frames}/{h.frames}", h.lost_packets)
           for h in heard.values()])
    assert min(h.xcorr for h in heard.values()) >= 0.8, heard
    wire_glitches = sum(h.glitched_frames for h in heard.values())
    assert wire_glitches == 0, heard
    assert sum(glitches.values()) == wire_glitches
    records = [p for p in (tmp_path / "calls").iterdir() if p.name.startswith("sip-")]
    assert len(records) == CALLS
    scores = []
    for record in records:
        pcm, rate, _ = read_wav(record / "conversation.wav")
        scores.append(best_correlation(resample_poly(pcm[:, 1], 8000, rate), turn))
    print("echo of the turn per call:", [f"{s:.3f}" for s in sorted(scores)])
    assert min(scores) >= 0.9, scores
    cpu0, cpu1 = cpu_by_stage(before), cpu_by_stage(after)
    per_call = {stage: (cpu1[stage] - cpu0.get(stage, 0.0)) / CALLS for stage in cpu1}
    print("CPU seconds per call by process:",
          {k: round(v, 3) for k, v in sorted(per_call.items())},
          f"(total {np.sum(list(per_call.values())):.3f} s per ~8 s call)")
