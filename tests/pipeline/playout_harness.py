"""A real ``PlayoutStage`` for tests that drive its clock by hand.

Its sockets are bound in a scratch runtime dir with nobody on the far end; the test
calls ``on_tick(now_ns)`` and ``on_data`` with chosen times (``stage.now_ns``): no
sleeps, no timing.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np

from ipc.schema import AgentAudio, SessionConfig
from pipeline.stages.playout import PlayoutStage
from pipeline.stages.runner import stage_arg_parser
from pipeline.transports.file.spec import file_transport

RATE = 24000
FRAME = 480  # samples of one 20 ms playout frame
FRAME_NS = 20_000_000


S = TypeVar("S", bound=PlayoutStage)


@contextmanager
def playout_stage(cls: type[S] = PlayoutStage) -> Iterator[S]:  # type: ignore[assignment]
    """A playout stage (``cls``: a subclass that keeps what it sends) on a private
    runtime directory; its sockets closed after."""
    rd = tempfile.mkdtemp(prefix="vp-playout-", dir="/tmp")  # ipc paths must stay short
    st = cls(stage_arg_parser("playout").parse_args(["--runtime-dir", rd]))
    try:
        yield st
    finally:
        routes = (s for route in st.push.values() for s in route.sockets)
        for sock in (st.inbox, st.control, st.events, *routes):
            sock.close(linger=0)
        st._ctx.term()
        shutil.rmtree(rd, ignore_errors=True)


def start_session(stage: PlayoutStage, tmp_path: Path, sid: str,
                  t0_ns: int | None = None) -> tuple[SessionConfig, Path]:
    """A file session on ``stage`` (origin ``t0_ns``, default an hour ahead of now: the
    stage resumes nobody mid-call, frame 0 is due at t0)."""
    wav = tmp_path / "in.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(2 * RATE // 10))
    out = tmp_path / sid
    t0 = time.monotonic_ns() + 3600 * 10**9 if t0_ns is None else t0_ns
    cfg = SessionConfig(sid, t0, str(out), file_transport(wav), output_rate=RATE)
    stage.on_session_start(cfg, resumed=False)
    return cfg, out


def end_session(stage: PlayoutStage, sid: str) -> None:
    """End ``sid`` on ``stage`` and wait for its record (written in the background)."""
    stage.on_session_end(sid)
    stage.close_records(wait=True)


def samples(n: int, start: int) -> np.ndarray:
    """``n`` recognisable non-zero samples (the ``start``-th onwards of one sequence)."""
    return (np.arange(start, start + n) % 20000 + 1).astype("<i2")


def agent_audio(sid: str, item: str, n: int, start: int) -> AgentAudio:
    return AgentAudio(sid, item, 0, 0, RATE, samples(n, start).tobytes(), 0)


def agent_channel(out: Path) -> np.ndarray:
    """The agent (right) channel of a finalized session's conversation.wav."""
    with wave.open(str(out / "conversation.wav")) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2")[1::2]
