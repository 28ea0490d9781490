"""Barge-in through the real processes: the caller talks over the agent's echo."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.record.event_log import read_event_log
from pipeline.record.wav_writer import write_wav
from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from pipeline.supervisor.session import SessionSpec
from pipeline.transports.file.spec import file_transport
from pipeline.transports.file.wav_reader import WavSource
from tests.pipeline.audio_checks import read_stereo
from tests.pipeline.test_end_to_end import FAST_HEARTBEAT


def make_interrupting_input(src: Path, labels: dict[str, Any], dst: Path,
                            gap_s: float) -> tuple[float, float]:
    """Turn 1, then turn 2 starting ``gap_s`` after turn 1 ends (while the echo plays).

    Returns (end of turn 1, start of turn 2) in seconds.
    """
    with WavSource.open(src) as w:
        rate = w.sample_rate
        x = np.frombuffer(w.read_s16(0, w.frames), dtype="<i2")
    t1, t2 = labels["turns"][0], labels["turns"][1]
    lead = x[: int(t1["onset_s"] * rate)]
    turn1 = x[int(t1["onset_s"] * rate) : int(t1["offset_s"] * rate)]
    quiet = x[int((t1["offset_s"] + 0.1) * rate) : int((t1["offset_s"] + 0.1 + gap_s) * rate)]
    turn2 = x[int(t2["onset_s"] * rate) : int(t2["offset_s"] * rate)]
    tail = x[int((t2["offset_s"] + 0.1) * rate) : int((t2["offset_s"] + 4.0) * rate)]
    write_wav(dst, np.concatenate([lead, turn1, quiet, turn2, tail]), rate)
    end1 = (len(lead) + len(turn1)) / rate
    return end1, end1 + len(quiet) / rate


async def _run(model_url: str, wav: Path, out: Path) -> Any:
    async with Runtime(RuntimeOptions(arbiter=FAST_HEARTBEAT)) as rt:
        session = rt.start_session(SessionSpec(file_transport(wav), out_dir=out,
                                               model_url=model_url))
        return await asyncio.wait_for(session.closed, 60)


def test_agent_falls_silent_and_item_is_truncated_at_what_played(
        model_url: str, three_turns: Any, tmp_path: Path) -> None:
    src, labels = three_turns
    wav = tmp_path / "interrupting.wav"
    end1, start2 = make_interrupting_input(src, labels, wav, gap_s=1.3)
    summary = asyncio.run(_run(model_url, wav, tmp_path / "out"))
    assert summary.error is None
    events = read_event_log(summary.events)
    kinds = [e["type"] for e in events]
    stopped = [e for e in events if e["type"] == "agent_stopped_speaking"]
    assert stopped and stopped[0]["interrupted"] is True, kinds
    cut = stopped[0]
    assert cut["text"].endswith("...")
    barge = next(e for e in events if e["type"] == "user_started_speaking"
                 and e["t_ms"] > end1 * 1000)
    # The model was told what was heard: truncated at the played duration.
    truncated = [e for e in events if e["type"] == "agent_item_truncated"]
    assert truncated, kinds
    assert abs(truncated[0]["audio_end_ms"] - cut["played_ms"]) <= 20
    assert 0 < cut["played_ms"] < cut["received_ms"]
    assert not [e for e in events if e["type"] == "model_error"], "the model refused the truncate"
    # The agent channel goes silent right after the barge-in reached playout...
    rate, _user, agent = read_stereo(summary.wav)  # type: ignore[arg-type]
    started = next(e for e in events if e["type"] == "agent_started_speaking")
    # agent_started_speaking carries the timeline position of the first sample.
    t_start, t_barge = started["position"] / rate, barge["t_ms"] / 1000
    silent_from = t_barge + 0.025
    next_start = min((e["position"] / rate for e in events
                      if e["type"] == "agent_started_speaking" and e["t_ms"] / 1000 > t_barge),
                     default=len(agent) / rate)
    assert np.max(np.abs(agent[int(silent_from * rate) : int(next_start * rate)])) == 0.0
    # ...and what it played before matches played_ms.
    played = np.flatnonzero(agent[int(t_start * rate) : int(silent_from * rate)])
    played_ms = (played[-1] + 1) * 1000 / rate if played.size else 0.0
    assert abs(played_ms - cut["played_ms"]) <= 25
    # Onset of the second turn (server VAD) to silence: report-worthy, bounded here.
    assert t_barge - start2 < 0.25
