"""A stalled consumer: playout stopped for 5 s under 4 sessions, then resumed."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import psutil

from pipeline.supervisor.arbiter import ArbiterOptions
from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from pipeline.supervisor.session import SessionSpec, SessionSummary
from pipeline.transports.file.spec import file_transport
from tests.pipeline.test_end_to_end import check_turns

# Longer than the stall, so this tests back-pressure rather than the hung-stage kill.
PATIENT = ArbiterOptions(heartbeat_interval_s=0.2, heartbeat_timeout_s=8.0)


async def _stall(model_url: str, wav: Path, out: Path) -> tuple[list[SessionSummary],
                                                                  dict[str, dict[str, int]],
                                                                  float]:
    async with Runtime(RuntimeOptions(arbiter=PATIENT)) as rt:
        sessions = []
        for i in range(4):
            sessions.append(rt.start_session(SessionSpec(
                file_transport(wav), out_dir=out / f"s{i}", model_url=model_url)))
            await asyncio.sleep(0.05)
        await asyncio.sleep(7.0)
        playout = rt.pids()["playout"]
        os.kill(playout, signal.SIGSTOP)
        peak_rss = 0.0
        for _ in range(50):
            await asyncio.sleep(0.1)
            peak_rss = max(peak_rss, sum(psutil.Process(p).memory_info().rss
                                         for p in rt.pids().values()) / 2**20)
        os.kill(playout, signal.SIGCONT)
        summaries = await asyncio.wait_for(asyncio.gather(*(s.closed for s in sessions)), 60)
        stats = await rt.stage_stats()
        assert rt.pids()["playout"] == playout, "the stalled playout was replaced"
    return list(summaries), {k: v.counters for k, v in stats.items()}, peak_rss


def test_stalled_playout_catches_up_and_every_session_goes_on(
        model_url: str, three_turns: Any, tmp_path: Path) -> None:
    wav, labels = three_turns
    summaries, counters, peak_rss = asyncio.run(_stall(model_url, wav, tmp_path))
    # The stall fell between replies: the sessions were idle, their clocks parked (an idle
    # session does not tick), so there were no frames to miss and none is counted skipped;
    # the reply that came during the stall started when playout resumed (checked below),
    # instead of bursting out the 5 s it missed.
    assert counters["playout"].get("late_frames_skipped", 0) == 0
    # Memory stayed bounded while the hop backed up (10k-message HWM per hop).
    assert peak_rss < 1024
    # Whatever could not be queued was counted, never silently lost.
    sent = counters["dsp"]["chunks_out"]
    dropped = sum(v for k, v in counters["dsp"].items() if k.startswith("send_dropped"))
    assert dropped <= sent
    for summary in summaries:
        assert summary.error is None
        # The turn after the stall is heard and echoed, in place, in every session.
        assert check_turns(summary, labels, wav, turns=[2])
