"""A bundled three-turn recording through all six processes and the offline model.

Checks the agent channel of conversation.wav against the user's turns: each
turn echoed (normalised cross-correlation >= 0.9), starting after the end of the
turn and before the next one, at the place the event timeline says. (How soon the
answer comes is a speed figure: benchmarks/latency.py.)
"""

from __future__ import annotations

import asyncio
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import zmq

from ipc.schema import (
    MAX_FRAME_BYTES,
    AgentAudio,
    CaptureFrame,
    TruncatePoint,
    UserAudio,
    data_encoder,
)
from pipeline.record.event_log import read_event_log
from pipeline.supervisor.arbiter import ArbiterOptions
from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from pipeline.supervisor.session import SessionSpec, SessionSummary
from pipeline.transports.file.spec import file_transport
from tests.pipeline.audio_checks import max_ncc, onset_after, read_mono, read_stereo

FAST_HEARTBEAT = ArbiterOptions(heartbeat_interval_s=0.2, heartbeat_timeout_s=3.0)


def check_turns(summary: SessionSummary, labels: dict[str, Any], input_wav: Path,
                turns: list[int] | None = None, offset_s: float = 0.0) -> list[dict[str, float]]:
    """Assert every labelled turn (or the listed ones) is echoed where the timeline says.

    ``offset_s``: where the input's start sits on the session timeline (0 for a file,
    which starts at the origin; a live caller starts when it connects).
    """
    assert summary.wav is not None and summary.wav.exists()
    rate, user, agent = read_stereo(summary.wav)
    events = read_event_log(summary.events)
    starts = [e["t_ms"] / 1000 for e in events if e["type"] == "agent_started_speaking"]
    ref = read_mono(input_wav, rate)
    shift = round(offset_s * rate)
    ref = np.concatenate([np.zeros(max(0, shift)), ref[max(0, -shift):]])
    found = []
    onsets = [t["onset_s"] for t in labels["turns"]] + [math.inf]
    for i, turn in enumerate(labels["turns"]):
        if turns is not None and i not in turns:
            continue
        on, off = turn["onset_s"] + offset_s, turn["offset_s"] + offset_s
        # The user channel is the input, resampled, at the same place on the timeline.
        span = slice(int((on - 0.1) * rate), int((off + 0.1) * rate))
        assert max_ncc(user[span], ref[span], 48) > 0.97, f"turn {i}: user channel"
        ev_start = next((t for t in starts if t > off), None)
        assert ev_start is not None, f"turn {i}: no agent_started_speaking after {off:.2f} s"
        latency = ev_start - off
        assert ev_start < onsets[i + 1], (
            f"turn {i}: first agent audio {latency:.3f} s after it, not before the next turn")
        # The agent channel is silent before the event; the echo starts with the
        # model's 300 ms of prefix padding, so its voice starts ~0.3 s after the event.
        i_ev = int(ev_start * rate)
        assert np.max(np.abs(agent[int(off * rate) : i_ev - int(0.03 * rate)])) == 0.0
        a_on = onset_after(agent, rate, ev_start - 0.03)
        u_on = onset_after(user, rate, on - 0.05)
        assert a_on is not None and u_on is not None
        # (The event carries its frame's slot; the voice's onset is where the padding ends
        # and the first word clears the onset threshold: 0.30-0.35 s measured.)
        assert 0.25 <= a_on - ev_start <= 0.40, f"turn {i}: voice {a_on - ev_start:.3f} s in"
        length = int((off - on) * rate)
        u_seg = user[int(u_on * rate) : int(u_on * rate) + length]
        a_seg = agent[int(a_on * rate) : int(a_on * rate) + length]
        ncc = max_ncc(a_seg, u_seg, int(0.05 * rate))
        assert ncc >= 0.9, f"turn {i}: echo correlation {ncc:.3f}"
        found.append({"turn": i, "latency_s": latency, "ncc": ncc})
    return found


async def _conversation(model_url: str, wav: Path, out: Path) -> tuple[SessionSummary, set[int],
                                                                        dict[str, Any]]:
    async with Runtime(RuntimeOptions(arbiter=FAST_HEARTBEAT)) as rt:
        session = rt.start_session(SessionSpec(file_transport(wav), out_dir=out,
                                               model_url=model_url))
        await asyncio.sleep(1.0)
        pids = set(rt.pids().values()) | {os.getpid()}
        alive = {p for p in pids if psutil.pid_exists(p)}
        summary = await asyncio.wait_for(session.closed, 60)
        stats = await rt.stage_stats()
    return summary, alive, {k: v.counters for k, v in stats.items()}


def test_three_turns_echoed_on_the_timeline(model_url: str, three_turns: Any,
                                            tmp_path: Path) -> None:
    wav, labels = three_turns
    summary, pids, counters = asyncio.run(_conversation(model_url, wav, tmp_path / "conv"))
    assert summary.error is None
    assert len(pids) == 6, f"expected supervisor + 5 stage processes, got {pids}"
    found = check_turns(summary, labels, wav)
    assert len(found) == 3
    assert len(summary.turns) == 3
    # No audio lost on any hop in a clean run.
    assert counters["dsp"].get("seq_gaps", 0) == 0
    # (frames of the just-ended session still in flight may arrive after its end)
    assert not any(k.startswith("frames_dropped") and not k.endswith("unknown_session")
                   for c in counters.values() for k in c)


async def _fuzzed(model_url: str, wav: Path, out: Path) -> tuple[SessionSummary,
                                                                 dict[str, dict[str, int]], int]:
    async with Runtime(RuntimeOptions(arbiter=FAST_HEARTBEAT)) as rt:
        session = rt.start_session(SessionSpec(file_transport(wav), out_dir=out,
                                               model_url=model_url))
        await asyncio.sleep(2.0)
        assert rt.dir is not None
        ctx = zmq.Context()
        rng = np.random.default_rng(1234)
        bad = malformed_frames(session.id)
        try:
            for stage in FUZZED_STAGES:
                push = ctx.socket(zmq.PUSH)
                push.setsockopt(zmq.LINGER, 1000)
                push.connect(rt.dir.inbox(stage))
                for k in range(FUZZ_PER_STAGE):
                    if k < len(bad):
                        push.send(bad[k])
                    else:
                        blob = rng.integers(0, 256, int(rng.integers(1, 400)), dtype=np.uint8)
                        if k % 10 == 0:
                            push.send_multipart([blob.tobytes(), b"x"])
                        else:
                            push.send(blob.tobytes())
                    if k % 50 == 0:
                        await asyncio.sleep(0.01)
                push.close()
                # Over MAXMSGSIZE: libzmq disconnects the sender; the stage never sees it.
                big = ctx.socket(zmq.PUSH)
                big.setsockopt(zmq.LINGER, 200)
                big.connect(rt.dir.inbox(stage))
                big.send(bytes(MAX_FRAME_BYTES + 1))
                big.close()
        finally:
            ctx.term()
        summary = await asyncio.wait_for(session.closed, 60)
        stats = await rt.stage_stats()
        restarts = sum(st.restarts for st in rt.arbiter.stages.values()) if rt.arbiter else -1
    return summary, {k: v.counters for k, v in stats.items()}, restarts


FUZZ_PER_STAGE = 300
FUZZED_STAGES = ("capture", "dsp", "model", "playout", "edge")


def malformed_frames(live_session: str) -> list[bytes]:
    """Frames that decode as msgpack but break the schema or its bounds."""
    pcm = bytes(960)
    good = data_encoder.encode(CaptureFrame(live_session, 10**9, 48000, 1, pcm, 0))
    return [
        good[: len(good) // 2],  # truncated
        good.replace(b"cf", b"zz", 1),  # unknown tag
        data_encoder.encode(CaptureFrame(live_session, 1, 48000, 1, pcm[:-1], 0)),  # odd PCM
        data_encoder.encode(CaptureFrame(live_session, 1, 48000, 2, pcm[:-2], 0)),  # not a frame
        data_encoder.encode(CaptureFrame(live_session, 1, 48000, 0, pcm, 0)),  # no channels
        data_encoder.encode(CaptureFrame(live_session, 1, 7, 1, pcm, 0)),  # absurd rate
        data_encoder.encode(CaptureFrame("", 1, 48000, 1, pcm, 0)),  # empty session id
        data_encoder.encode(CaptureFrame("x" * 65, 1, 48000, 1, pcm, 0)),  # too long an id
        data_encoder.encode(CaptureFrame("nobody", 1, 48000, 1, pcm, 0)),  # unknown session
        data_encoder.encode(UserAudio(live_session, 1, 24000, pcm[:-1], 0, 0, 0)),  # odd PCM
        data_encoder.encode(AgentAudio(live_session, "i", 0, 1, 24000, pcm[:-1], 0)),
        data_encoder.encode(TruncatePoint(live_session, "i", 0, -1, 5, 24000)),  # negative
        b"\x93\xa2cf\xc0",  # a tag with the wrong field types
        b"\xc1",  # never-used msgpack byte
    ]


def test_random_bytes_are_counted_and_dropped(model_url: str, three_turns: Any,
                                              tmp_path: Path) -> None:
    wav, labels = three_turns
    summary, counters, restarts = asyncio.run(_fuzzed(model_url, wav, tmp_path / "fuzz"))
    assert restarts == 0
    for stage in FUZZED_STAGES:
        dropped = sum(v for k, v in counters[stage].items() if k.startswith("frames_dropped"))
        # Every frame is counted as dropped, except one a stage finds merely of the wrong
        # kind for it (e.g. UserAudio into capture): "unexpected_type" is a drop too.
        assert dropped == FUZZ_PER_STAGE, (stage, counters[stage])
    assert summary.error is None
    assert len(check_turns(summary, labels, wav)) == 3
