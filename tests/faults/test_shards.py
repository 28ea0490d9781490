"""Stages run as several workers, sessions sharded across them (issue 15, item 2).

Four copies of the three-turn call on the offline echo model, compared with the same
four on one worker per stage: sharded, every recording is the same audio (the user
channel sample for sample; the agent's echo sample for sample once the silence around
it is set aside, as a reply starts at whichever 20 ms slot follows its arrival). Then
one dsp (or model) worker is SIGKILLed mid-call: only that worker is restarted, only
its sessions show the cut, and the other worker's sessions are still the clean run's.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import psutil
import pytest

from ipc.shards import STAGE_KINDS, worker_names
from pipeline.record.event_log import read_event_log
from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from pipeline.supervisor.session import SessionSpec, SessionSummary
from pipeline.transports.file.spec import file_transport
from tests.pipeline.test_end_to_end import FAST_HEARTBEAT, check_turns

SHARDED: Final = {"dsp": 2, "model": 2}
EVERY_STAGE: Final = {stage: 2 for stage in STAGE_KINDS}
COPIES: Final = 4
KILL_AT_S: Final = 7.0  # during the second turn: the third is said after the restart
RATE: Final = 24000
# Capture starts a session's input where its clock stands when it hears of the session
# (t0 is 50 ms after the start): on a busy host a few frames late, and dsp's resampler
# starts cold there. That is the same with one worker or two; the comparison starts
# after it (the call's first words are at 1.0 s).
START: Final = int(0.2 * RATE)

Int16s = np.ndarray[Any, np.dtype[np.int16]]


@dataclass
class Run:
    summaries: dict[str, SessionSummary]
    shards: dict[str, dict[str, int]]  # session -> its worker index per sharded stage
    pids: dict[str, int]  # at the end
    restarts: dict[str, int]
    counters: dict[str, dict[str, int]]  # each worker's, at the end
    label: str

    def user_lost(self, sid: str) -> int:
        """Input frames the session lost to a host too busy for real time: capture's
        skips, its dsp worker's sequence gaps."""
        return (self._of("capture", sid).get("frames_skipped", 0)
                + self._of("dsp", sid).get("seq_gap_frames", 0))

    def _of(self, stage: str, sid: str) -> dict[str, int]:
        """The counters of the ``stage`` worker that served ``sid``."""
        index = self.shards[sid].get(stage)
        return self.counters.get(stage if index is None else f"{stage}.{index}", {})

    def lost(self, sid: str) -> int:
        """Those and the agent frames playout could not play in time (its glitches)."""
        return self.user_lost(sid) + sum(self.summaries[sid].glitch_frames.values())


def _require_real_time(*runs: tuple[Run, str], user_only: bool = False) -> None:
    """Bit-exact comparisons need runs that lost nothing to the host's load."""
    lost = {f"{run.label} {sid}": n for run, sid in runs
            if (n := run.user_lost(sid) if user_only else run.lost(sid))}
    assert not lost, f"host too busy for real time, frames lost: {lost}"


async def _run(model_url: str, wav: Path, out: Path, workers: Mapping[str, int],
               kill: str = "") -> Run:
    async with Runtime(RuntimeOptions(arbiter=FAST_HEARTBEAT, workers=workers)) as rt:
        assert rt.arbiter is not None
        sessions = [rt.start_session(SessionSpec(file_transport(wav), out_dir=out / f"call-{i}",
                                                 model_url=model_url, session_id=f"call-{i}"))
                    for i in range(COPIES)]
        if kill:
            await asyncio.sleep(KILL_AT_S)
            old = rt.pids()[kill]
            os.kill(old, signal.SIGKILL)
            t = time.monotonic()
            while rt.pids()[kill] == old and time.monotonic() - t < 30:
                await asyncio.sleep(0.02)
            assert not psutil.pid_exists(old) or psutil.Process(old).status() == "zombie"
        done = await asyncio.wait_for(asyncio.gather(*(s.closed for s in sessions)), 120)
        stats = await rt.stage_stats(counters_only=True)
        return Run({s.session: s for s in done}, {s.id: dict(s.config.workers) for s in sessions},
                   rt.pids(), {n: st.restarts for n, st in rt.arbiter.stages.items()},
                   {n: dict(r.counters) for n, r in stats.items()},
                   f"kill {kill}" if kill else f"workers {dict(workers)}")


def _tracks(summary: SessionSummary) -> tuple[Int16s, Int16s]:
    """The recording's user and agent channels, as written (int16)."""
    assert summary.wav is not None
    with wave.open(str(summary.wav)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    return pcm[:, 0], pcm[:, 1]


def _voiced(agent: Int16s) -> Int16s:
    """The agent's audio without the silence around and between replies."""
    voiced: Int16s = agent[agent != 0]
    return voiced


def _same_as_clean(run: Run, clean: Run, sid: str) -> None:
    _require_real_time((run, sid), (clean, sid))
    summary = run.summaries[sid]
    user, agent = _tracks(summary)
    clean_user, clean_agent = _tracks(clean.summaries[sid])
    n = min(len(user), len(clean_user))  # the session ends when its last reply has played
    differ = START + np.flatnonzero(user[START:n] != clean_user[START:n])
    assert not len(differ), f"{sid}: user channel differs from {differ[0] / RATE:.3f} s"
    assert len(_voiced(agent)) > 0 and np.array_equal(_voiced(agent), _voiced(clean_agent)), \
        summary.session


@pytest.fixture(scope="module")
def clean(model_url: str, three_turns: Any, tmp_path_factory: pytest.TempPathFactory) -> Run:
    wav, _ = three_turns
    return asyncio.run(_run(model_url, wav, tmp_path_factory.mktemp("clean"), {}))


@pytest.mark.parametrize("workers", [SHARDED, EVERY_STAGE], ids=["dsp+model", "every"])
def test_sharded_sessions_record_what_one_worker_records(
        model_url: str, three_turns: Any, tmp_path: Path, clean: Run,
        workers: dict[str, int]) -> None:
    wav, labels = three_turns
    run = asyncio.run(_run(model_url, wav, tmp_path, workers))
    assert sorted(run.pids) == sorted(name for stage in STAGE_KINDS
                                      for name in worker_names(stage, workers.get(stage, 1)))
    # The least-loaded worker of each sharded stage, in turn.
    assert [run.shards[f"call-{i}"] for i in range(COPIES)] == [
        {stage: i % 2 for stage in workers} for i in range(COPIES)]
    assert not any(run.restarts.values())
    for sid, summary in run.summaries.items():
        assert summary.error is None
        assert len(check_turns(summary, labels, wav)) == 3, sid
        _same_as_clean(run, clean, sid)


@pytest.mark.parametrize("stage", ["dsp", "model"])
def test_a_killed_worker_cuts_only_its_own_sessions(
        model_url: str, three_turns: Any, tmp_path: Path, clean: Run, stage: str) -> None:
    wav, labels = three_turns
    run = asyncio.run(_run(model_url, wav, tmp_path, SHARDED, kill=f"{stage}.1"))
    skipped = run.counters.get("capture", {}).get("frames_skipped", 0)
    assert not skipped, f"host too busy for real time: capture skipped {skipped} frames"
    assert {n: r for n, r in run.restarts.items() if r} == {f"{stage}.1": 1}
    hit = sorted(sid for sid, shard in run.shards.items() if shard[stage] == 1)
    assert hit == ["call-1", "call-3"]
    for sid, summary in run.summaries.items():
        assert summary.error is None, sid
        # Every session goes on: the third turn, said after the restart, is echoed.
        found = check_turns(summary, labels, wav, turns=[2])
        assert found and found[0]["ncc"] >= 0.9, sid
        connected = [e for e in read_event_log(summary.events)
                     if e["type"] == "model_connected"]
        if sid not in hit:
            _same_as_clean(run, clean, sid)
            assert len(connected) == 1, sid
            continue
        user, agent = _tracks(summary)
        clean_user, clean_agent = _tracks(clean.summaries[sid])
        if stage == "dsp":
            _require_real_time((clean, sid), user_only=True)
            # The user channel is the clean run's but for a gap from the kill until the
            # new worker serves (frames lost with the worker, a chain rebuilt from cold):
            # the third turn, said after the restart, is the clean run's sample for sample.
            n = min(len(user), len(clean_user))
            differ = START + np.flatnonzero(user[START:n] != clean_user[START:n])
            assert len(differ), sid
            gap = (differ[0] / RATE, differ[-1] / RATE)
            assert gap[0] >= KILL_AT_S - 1.0 and gap[1] < labels["turns"][2]["onset_s"], gap
        else:
            # dsp was not touched: the user channel is the clean run's; the model worker
            # opened a new connection (a new conversation on the model's side).
            _require_real_time((run, sid), (clean, sid), user_only=True)
            n = min(len(user), len(clean_user))
            assert np.array_equal(user[START:n], clean_user[START:n]), sid
            assert len(connected) == 2, sid
            assert not np.array_equal(_voiced(agent), _voiced(clean_agent)), sid
