"""Glitches counted honestly and sessions refused before they degrade, with real processes.

A playout SIGSTOPped mid-reply must leave one ``PlayoutGlitch`` whose frames are the
gap the recording's agent channel shows (the reply resumes after it, nothing of it
lost). Sessions past the admission threshold are refused with the clear error while
the admitted ones play with no glitch.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.density_audio import turns_heard
from ipc.schema import AgentStartedSpeaking, StageEvent
from pipeline.record.event_log import read_event_log
from pipeline.supervisor.admission import AdmissionLimits, AdmissionRefused, Headroom
from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from pipeline.supervisor.session import SessionSpec, SessionSummary
from pipeline.transports.file.spec import file_transport
from tests.pipeline.audio_checks import max_ncc, onset_after, read_stereo
from tests.pipeline.test_end_to_end import FAST_HEARTBEAT, check_turns

FRAME = 480  # playout frame at 24 kHz
STOP_S = 1.0  # well inside the 3 s heartbeat deadline: a stall, not a hung stage


async def _stop_playout_mid_reply(model_url: str, wav: Path, out: Path) -> SessionSummary:
    async with Runtime(RuntimeOptions(arbiter=FAST_HEARTBEAT)) as rt:
        session = rt.start_session(SessionSpec(file_transport(wav), out_dir=out,
                                               model_url=model_url))
        speaking = asyncio.Event()

        def on_event(ev: StageEvent) -> None:
            if isinstance(ev.event, AgentStartedSpeaking):
                speaking.set()

        session.on(on_event)
        await asyncio.wait_for(speaking.wait(), 30)
        await asyncio.sleep(0.7)  # into the echo's voice (it starts ~0.3 s in)
        playout = rt.pids()["playout"]
        os.kill(playout, signal.SIGSTOP)
        await asyncio.sleep(STOP_S)
        os.kill(playout, signal.SIGCONT)
        summary = await asyncio.wait_for(session.closed, 60)
        assert rt.pids()["playout"] == playout, "the stopped playout was replaced"
    return summary


def test_a_stopped_playout_is_one_glitch_the_size_of_the_recordings_gap(
        model_url: str, three_turns: Any, tmp_path: Path) -> None:
    wav, labels = three_turns
    summary = asyncio.run(_stop_playout_mid_reply(model_url, wav, tmp_path / "stop"))
    assert summary.error is None
    glitches = [e for e in read_event_log(summary.events) if e["type"] == "playout_glitch"]
    assert len(glitches) == 1, glitches
    g = glitches[0]
    assert g["cause"] == "late" and g["frames"] >= STOP_S * 50 * 0.9, g
    assert summary.glitch_frames == {"late": g["frames"]} and summary.glitch_runs == 1
    assert summary.wav is not None
    rate, user, agent = read_stereo(summary.wav)
    start, end = g["position"], g["position"] + g["frames"] * FRAME
    # The gap in the agent channel, measured from the signal: the run of digital silence
    # around the glitch's frames, inside the reply's audio.
    lo, hi = start, end
    while lo > 0 and agent[lo - 1] == 0.0:
        lo -= 1
    while hi < agent.size and agent[hi] == 0.0:
        hi += 1
    assert not agent[start:end].any()
    assert start - lo < FRAME and hi - end < FRAME, (lo, start, end, hi)
    assert round((hi - lo) / FRAME) == g["frames"]
    # Nothing of the reply was lost, only delayed: cut the gap out and the first turn's
    # echo is whole again.
    spliced = np.concatenate([agent[:start], agent[end:]])
    turn = labels["turns"][0]
    a_on = onset_after(spliced, rate, turn["offset_s"])
    u_on = onset_after(user, rate, turn["onset_s"] - 0.05)
    assert a_on is not None and u_on is not None and a_on * rate < start
    n = int(turn["duration_s"] * rate)
    u_seg = user[int(u_on * rate): int(u_on * rate) + n]
    a_seg = spliced[int(a_on * rate): int(a_on * rate) + n]
    assert max_ncc(a_seg, u_seg, int(0.05 * rate)) >= 0.9
    check_turns(summary, labels, wav, turns=[1, 2])  # the later turns are untouched
    # The density benchmark, counting from the recording alone, finds the same frames.
    assert [t.glitched_frames for t in turns_heard(summary.wav, labels)] == [g["frames"], 0, 0]


async def _past_the_threshold(model_url: str, wav: Path, out: Path,
                              ) -> tuple[list[SessionSummary], list[AdmissionRefused]]:
    # Measured headroom is injected (no reading is taken during the test): the cap
    # and the figures decide, not how busy this machine happens to be.
    opts = RuntimeOptions(arbiter=FAST_HEARTBEAT, headroom_interval_s=3600.0,
                          admission=AdmissionLimits(max_sessions=2))
    refused: list[AdmissionRefused] = []
    async with Runtime(opts) as rt:
        rt.headroom.latest = Headroom({"dsp": 0.97, "model": 0.5})  # a saturated stage
        with pytest.raises(AdmissionRefused) as cpu:
            rt.start_session(SessionSpec(file_transport(wav), out_dir=out / "cpu",
                                         model_url=model_url))
        refused.append(cpu.value)
        rt.headroom.latest = Headroom({"dsp": 0.05, "model": 0.04})
        sessions = [rt.start_session(SessionSpec(file_transport(wav), out_dir=out / f"s{i}",
                                                 model_url=model_url)) for i in range(2)]
        for i in range(2, 4):
            with pytest.raises(AdmissionRefused) as late:
                rt.start_session(SessionSpec(file_transport(wav), out_dir=out / f"s{i}",
                                             model_url=model_url))
            refused.append(late.value)
        summaries = await asyncio.wait_for(asyncio.gather(*(s.closed for s in sessions)), 90)
        rt.admit()  # the cap has room again
    return list(summaries), refused


def test_sessions_past_the_threshold_are_refused_and_the_admitted_play_clean(
        model_url: str, three_turns: Any, tmp_path: Path) -> None:
    wav, labels = three_turns
    summaries, refused = asyncio.run(_past_the_threshold(model_url, wav, tmp_path))
    assert [r.reason for r in refused] == ["cpu", "max_sessions", "max_sessions"]
    assert str(refused[0]).startswith("no headroom for a new session: stage dsp uses 97% "
                                      "of a core (limit 90%)")
    assert "2 sessions live, the cap is 2" in str(refused[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s0", "s1"]  # refused: no trace
    for summary in summaries:
        assert summary.error is None
        assert summary.glitches == 0 and summary.glitch_runs == 0
        assert len(check_turns(summary, labels, wav)) == 3
