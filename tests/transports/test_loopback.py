"""The loopback transport through all the processes: a live caller's audio enters at
the edge stage, the agent's reply leaves through it, the record is the file call's."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.record.event_log import read_event_log
from tests.pipeline.audio_checks import delay_of, onset_after, read_mono, read_stereo
from tests.pipeline.test_end_to_end import check_turns
from tests.transports.loopback.call import enable_loopback, run_loopback_call


def test_loopback_call_goes_through_the_edge(model_url: str, three_turns: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    enable_loopback(monkeypatch)
    wav, labels = three_turns
    call = asyncio.run(run_loopback_call(model_url, wav, tmp_path / "call"))
    summary, peer = call.summary, call.peer
    assert summary.error is None
    assert peer.connections == 1 and peer.chunks_lost == 0
    assert len(summary.turns) == 3
    # The record: the caller's audio on the left where it arrived, each turn echoed.
    assert summary.wav is not None
    rate, user, agent = read_stereo(summary.wav)
    first = labels["turns"][0]
    offset = delay_of(user, read_mono(wav, rate), rate, start_s=first["onset_s"] - 0.5)
    assert len(check_turns(summary, labels, wav, offset_s=offset)) == 3
    # The caller heard exactly what the record says was played, at the same ticks.
    heard = peer.received_audio()
    assert peer.received_rate == rate
    n = min(len(heard), len(agent))
    assert np.array_equal(heard[:n], agent[:n])
    assert not np.any(agent[n:])
    for turn in labels["turns"]:
        assert onset_after(heard, rate, turn["offset_s"] + offset) is not None
    events = read_event_log(summary.events)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "session_started" and kinds[-1] == "session_closed"
    assert kinds.count("agent_started_speaking") == 3
    edge, dsp = call.counters["edge"], call.counters["dsp"]
    assert edge["frames_out"] > 0 and edge["egress_frames"] == len(peer.received)
    assert not [k for k in edge if k.startswith(("frames_dropped", "egress_dropped"))], edge
    assert dsp.get("seq_gaps", 0) == 0
    assert sum(call.restarts.values()) == 0
