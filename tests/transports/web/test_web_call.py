"""The WebRTC transport through all the processes, with an aiortc caller (no browser)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from ipc.schema import AgentTranscription, SessionClosed, UserTranscription
from pipeline.record.event_log import read_event_log
from pipeline.supervisor.runtime import Runtime
from pipeline.supervisor.session import Session
from tests.pipeline.audio_checks import (
    F64,
    delay_of,
    max_ncc,
    onset_after,
    read_mono,
    read_stereo,
)
from tests.pipeline.test_barge_in import make_interrupting_input
from tests.transports.web.call import run_web_call
from tests.transports.web.client import WebCaller
from tests.transports.web.signal_match import envelope_ncc, rms_dbfs

NOTES = [UserTranscription("hello there", True),
         AgentTranscription("seg1", "item1", "hi, I hear you", True, 4)]


async def _send_notes(rt: Runtime, session: Session, caller: WebCaller) -> None:
    for note in NOTES:
        rt.note(session.id, note)


def _heard_on_timeline(caller: WebCaller, agent: F64, rate: int, start_s: float,
                       dur_s: float) -> tuple[F64, float]:
    """What the caller heard at the record's rate, and how late (s) it sits against the
    record's agent channel (the network path and the jitter buffers)."""
    heard = np.asarray(soxr.resample(caller.received(), 48000, rate), dtype=np.float64)
    return heard, delay_of(heard, agent, rate, start_s=start_s, dur_s=dur_s, max_s=2.0)


def test_web_call_echoes_each_turn_to_the_caller(model_url: str, three_turns: Any,
                                                 tmp_path: Path) -> None:
    wav, labels = three_turns
    call = asyncio.run(run_web_call(model_url, wav, tmp_path / "call", agent_items=3,
                                    during=_send_notes))
    summary, caller = call.summary, call.caller
    assert summary.error is None
    assert call.answer.pc_id == "caller" and call.answer.sdp_type == "answer"
    assert "a=candidate" in call.answer.sdp and "opus/48000" in call.answer.sdp.lower()
    assert len(summary.turns) == 3
    # Hanging up ended the session, and its record is complete.
    assert isinstance(call.events[-1].event, SessionClosed)
    assert summary.wav is not None and summary.wav.exists()
    # The record: the caller's audio on the left, where it arrived.
    rate, user, agent = read_stereo(summary.wav)
    ref = read_mono(wav, rate)
    offset = delay_of(user, ref, rate, start_s=labels["turns"][0]["onset_s"] - 0.5)
    heard, lag = _heard_on_timeline(caller, agent, rate,
                                    labels["turns"][0]["offset_s"] + offset, 12.0)
    for i, turn in enumerate(labels["turns"]):
        on, off = turn["onset_s"] + offset, turn["offset_s"] + offset
        span = slice(int((on - 0.1) * rate), int((off + 0.1) * rate))
        said_ref = ref[int((turn["onset_s"] - 0.1) * rate) : int((turn["offset_s"] + 0.1) * rate)]
        assert max_ncc(user[span], said_ref, 48) > 0.9, f"turn {i}: user channel"
        u_on, a_on = onset_after(user, rate, on - 0.05), onset_after(agent, rate, off)
        assert u_on is not None and a_on is not None, f"turn {i}: no echo in the record"
        length = int((off - on) * rate)
        said = user[int(u_on * rate) : int(u_on * rate) + length]
        i_heard = int((a_on + lag) * rate)
        echo = heard[i_heard : i_heard + length]
        # Opus both ways keeps the waveform only roughly (and a frame a loaded host
        # delivers late shifts the rest of a turn): the envelopes must match.
        env = envelope_ncc(echo, said, rate)
        print(f"turn {i}: echo heard: envelope {env:.3f}, "
              f"waveform {max_ncc(echo, said, int(0.05 * rate)):.3f}")
        assert env >= 0.8, f"turn {i}: the caller heard an echo correlating {env:.3f}"
    # The agent's notes reached the caller as the record's lines, in order.
    events = read_event_log(summary.events)
    notes = [e for e in events if e["origin"] == "agent"]
    assert len(notes) == len(NOTES)
    assert [m for m in caller.messages if m["origin"] == "agent"] == notes
    assert call.counters["edge"]["notes_delivered"] == len(NOTES)


def test_barge_in_flushes_what_the_caller_would_hear(model_url: str, three_turns: Any,
                                                     tmp_path: Path) -> None:
    src, labels = three_turns
    wav = tmp_path / "interrupting.wav"
    make_interrupting_input(src, labels, wav, gap_s=1.3)
    call = asyncio.run(run_web_call(model_url, wav, tmp_path / "call", agent_items=2))
    summary = call.summary
    assert summary.error is None and summary.wav is not None
    events = read_event_log(summary.events)
    stopped = [e for e in events if e["type"] == "agent_stopped_speaking"]
    assert stopped and stopped[0]["interrupted"] is True
    started = [e for e in events if e["type"] == "agent_started_speaking"]
    rate, _user, agent = read_stereo(summary.wav)
    t_start = started[0]["position"] / rate
    t_cut = t_start + stopped[0]["played_ms"] / 1000  # where the record's echo stops
    t_next = started[1]["position"] / rate if len(started) > 1 else len(agent) / rate
    heard, lag = _heard_on_timeline(call.caller, agent, rate, t_start, t_cut - t_start)
    before = heard[int((t_start + lag) * rate) : int((t_cut + lag) * rate)]
    # The caller heard the echo up to the cut, and nothing of the rest once the flush
    # reached the edge (one frame in flight, and Opus's ringing, aside).
    after = heard[int((t_cut + lag + 0.04) * rate) : int((t_next + lag) * rate)]
    print(f"barge-in: before {rms_dbfs(before):.1f} dBFS, after {rms_dbfs(after):.1f} dBFS")
    assert rms_dbfs(before) > -40.0
    assert len(after) > 0 and rms_dbfs(after) < -60.0
