"""One session's live connection in the edge stage: both directions of one socket.

Ingress: the connection's audio, in chunks of any length, is cut into frames of
``frame_ms`` and pushed to dsp as ``CaptureFrame``s, numbered on the session
timeline as capture numbers a file's (frame k belongs at ``t0 + k * frame``): a
connection's first frame gets the number of the slot it arrived in (audio from
before ``t0`` has none and is dropped), the next ones count on from it, and a
connection that falls further behind than capture allows skips ahead (the audio
is gone, as on any live line). When the far end closes its
side the session hears ``input_ended`` and then closes as a file session does.

Egress: playout's paced agent frames wait in a short queue for the connection's
writer; a barge-in (flush) empties it and tells the connection. The agent's notes
go to the connection as the lines ``events.jsonl`` gets (its side channel, if any).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Final

from ipc.schema import (
    CaptureFrame,
    EdgeCandidate,
    EdgeFrame,
    InputEnded,
    SessionConfig,
    SessionError,
    SessionEvent,
    record_line,
)
from ipc.stats import StageStats
from pipeline.logs import session_extra
from pipeline.transports.base import AudioFormat, EdgeConnection

CLOSE_TIMEOUT_S: Final = 1.0
# Agent frames buffered for a slow connection (20 ms each): past this, the oldest go.
MAX_EGRESS_FRAMES: Final = 50
# Ingress further behind the timeline than this skips ahead, as capture does.
MAX_LAG_FRAMES: Final = 20
_FLUSH: Final = object()


class FrameCutter:
    """Cuts a byte stream into fixed-size frames without copying more than once."""

    def __init__(self, frame_bytes: int) -> None:
        self.frame_bytes = frame_bytes
        self._buf = bytearray()

    def push(self, chunk: bytes) -> list[bytes]:
        self._buf += chunk
        n = len(self._buf) // self.frame_bytes * self.frame_bytes
        if n == 0:
            return []
        whole = bytes(self._buf[:n])
        del self._buf[:n]
        return [whole[i : i + self.frame_bytes] for i in range(0, n, self.frame_bytes)]


Emit = Callable[[str, SessionEvent], None]


class EdgeCall:
    """Runs one ``EdgeConnection`` for a session until the session ends."""

    def __init__(self, cfg: SessionConfig, conn: EdgeConnection,
                 to_dsp: Callable[[CaptureFrame], bool], emit: Emit, stats: StageStats,
                 log: logging.Logger) -> None:
        self.cfg = cfg
        self.conn = conn
        self._to_dsp = to_dsp
        self._emit = emit
        self.stats = stats
        self.log = log
        self._frame_ns = cfg.frame_ms * 1_000_000
        self._next_seq: int | None = None
        self._egress: asyncio.Queue[EdgeFrame | object] = asyncio.Queue()
        self._opened = asyncio.Event()
        self._writable = True
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._ingress()),
                       asyncio.create_task(self._writer())]

    def end_input(self) -> None:
        """The connection cannot be served (it died with a previous edge): the caller's
        input is over, and nothing more is written to it."""
        self._writable = False
        self._emit(self.cfg.session, InputEnded(0))

    # -- the agent's side of the call ------------------------------------------
    def deliver(self, event: SessionEvent, t_ms: float | None) -> None:
        """An agent note, as the session record's line, to the connection's side channel."""
        if t_ms is None:
            t_ms = round((time.monotonic_ns() - self.cfg.t0_ns) / 1e6, 1)
        self.conn.deliver(record_line(self.cfg.session, event, t_ms, "agent"))
        self.stats.count("notes_delivered")

    async def add_candidate(self, msg: EdgeCandidate) -> None:
        """A trickled ICE candidate; one the connection refuses is counted and dropped."""
        try:
            await self.conn.add_candidate(msg.candidate, msg.sdp_mid, msg.sdp_mline_index)
        except Exception as exc:  # a malformed candidate must not end the call
            self.stats.count("candidates_dropped")
            self.log.warning("ICE candidate refused: %s: %s", type(exc).__name__, exc,
                             extra=session_extra(self.cfg.session))

    # -- ingress ---------------------------------------------------------------
    async def _ingress(self) -> None:
        session = self.cfg.session
        try:
            fmt = await asyncio.wait_for(self.conn.open(), self.conn.open_timeout_s)
        except Exception as exc:  # any library's failure to connect ends the call
            self.log.error("cannot connect: %s", exc, extra=session_extra(session))
            self._emit(session, SessionError(
                True, f"edge: cannot connect: {type(exc).__name__}: {exc}"))
            return
        self._opened.set()
        cutter = FrameCutter(2 * fmt.channels * (fmt.sample_rate * self.cfg.frame_ms // 1000))
        frames = 0
        try:
            while chunk := await self.conn.receive():
                for pcm in cutter.push(chunk):
                    frames += self._push(fmt, pcm)
        except Exception as exc:  # a reset, or a far end that broke its protocol
            self.stats.count("connections_lost")
            self.log.warning("connection lost: %s: %s", type(exc).__name__, exc,
                             extra=session_extra(session))
        self.log.info("input ended after %d frames", frames, extra=session_extra(session))
        self._emit(session, InputEnded(frames))

    def _push(self, fmt: AudioFormat, pcm: bytes) -> int:
        now = time.monotonic_ns()
        slot = (now - self.cfg.t0_ns) // self._frame_ns
        if self._next_seq is None and slot < 0:
            # Said before the timeline's origin: it has no place on it.
            self.stats.count("frames_before_t0")
            return 0
        seq = slot if self._next_seq is None else self._next_seq
        if slot - seq > MAX_LAG_FRAMES:
            self.stats.count("frames_skipped", int(slot - seq))
            seq = slot
        if not self._to_dsp(CaptureFrame(self.cfg.session, int(seq), fmt.sample_rate,
                                         fmt.channels, pcm, now)):
            return 0
        self._next_seq = seq + 1
        self.stats.count("frames_out")
        return 1

    # -- egress ----------------------------------------------------------------
    def play(self, frame: EdgeFrame) -> None:
        """Queue one paced agent frame for the connection."""
        if not self._writable:
            self.stats.count("egress_dropped.closed")
            return
        if self._egress.qsize() >= MAX_EGRESS_FRAMES:
            self._egress.get_nowait()
            self.stats.count("egress_dropped.backlog")
        self._egress.put_nowait(frame)

    def flush(self) -> None:
        """Barge-in: drop what waits, then have the connection drop what it buffers."""
        while not self._egress.empty():
            self._egress.get_nowait()
            self.stats.count("egress_dropped.flushed")
        self._egress.put_nowait(_FLUSH)

    async def _writer(self) -> None:
        await self._opened.wait()
        try:
            while True:
                item = await self._egress.get()
                if isinstance(item, EdgeFrame):
                    await self.conn.send(item.seq, item.sample_rate, item.pcm,
                                         item.position)
                    self.stats.count("egress_frames")
                else:
                    await self.conn.flush()
        except Exception as exc:
            self._writable = False
            self.stats.count("connections_lost")
            self.log.warning("cannot write to the connection: %s: %s", type(exc).__name__, exc,
                             extra=session_extra(self.cfg.session))

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.conn.close(), CLOSE_TIMEOUT_S)
        for name, n in self.conn.counters().items():
            if n:
                self.stats.count(f"conn.{name}", n)
