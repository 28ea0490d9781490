"""capture: file ingress. Reads each file session's input and stamps 10 ms frames.

Serves the sessions whose transport is a ``FileTransport`` (live connections are
the edge stage's). Their ``Source`` is paced in real time against the session's
timeline origin (frame k is due at ``t0 + k * 10 ms``), or as fast as the dsp hop
accepts it; the source ends with a tail of silence that keeps the line open.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Final

from ipc.schema import (
    CaptureFrame,
    FileTransport,
    InputEnded,
    InputProgress,
    SessionConfig,
    SessionError,
)
from pipeline.logs import session_extra
from pipeline.stages.deadlines import DeadlineQueue
from pipeline.stages.runner import HotStage, run_stage
from pipeline.transports.base import Source
from pipeline.transports.file.source import FileSource

# In fast mode, frames sent per session per wake-up: keeps one session from
# filling the dsp hop while others wait.
FAST_BURST: Final = 20
# After a refused send (dsp restarting, or its inbox full), try again this much later.
RETRY_NS: Final = 5_000_000
# Report progress this often (frames) so a restarted capture resumes there.
PROGRESS_EVERY: Final = 100
# Frames due within this much of now go out in the same wake-up: one wake-up serves
# every session whose frame falls in the window, instead of one per session.
SEND_AHEAD_NS: Final = 2_000_000
# Real-time sessions further behind than this skip ahead (the audio is gone, as
# on a live line) instead of bursting stale frames into the pipeline.
MAX_LAG_FRAMES: Final = 20


@dataclass
class InputCursor:
    """Where one session's input stands."""

    cfg: SessionConfig
    source: Source
    realtime: bool
    total: int  # frames including the tail of silence
    next_seq: int
    ended: bool = False

    def due_ns(self, seq: int) -> int:
        return self.cfg.t0_ns + seq * self.cfg.frame_ms * 1_000_000


class CaptureStage(HotStage):
    name = "capture"
    pushes_to = ("dsp",)

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.cursors: dict[str, InputCursor] = {}
        self.due = DeadlineQueue()
        self.frames_out = 0  # frames sent this wake-up

    def on_session_start(self, cfg: SessionConfig, resumed: bool) -> None:
        transport = cfg.transport
        if not isinstance(transport, FileTransport):
            return  # a live connection: the edge stage's
        try:
            source = FileSource.open(transport, cfg.frame_ms)
        except (OSError, ValueError) as exc:
            self.log.error("cannot open input: %s", exc, extra=session_extra(cfg.session))
            self.emit(cfg.session, SessionError(True, str(exc)))
            return
        seq = cfg.resume_frame
        if transport.realtime:
            # Resume where the clock says the caller is now, not where we died.
            elapsed = (time.monotonic_ns() - cfg.t0_ns) // (cfg.frame_ms * 1_000_000)
            seq = max(seq, int(elapsed))
        cur = self.cursors[cfg.session] = InputCursor(cfg, source, transport.realtime,
                                                      source.total_frames, seq)
        self.due.schedule(cfg.session, cur.due_ns(seq))
        if resumed:
            self.log.info("resumed input at frame %d", seq, extra=session_extra(cfg.session))

    def on_session_end(self, session: str) -> None:
        cur = self.cursors.pop(session, None)
        self.due.cancel(session)
        if cur is not None:
            cur.source.close()

    def _send_frame(self, cur: InputCursor) -> bool:
        seq, fmt = cur.next_seq, cur.source.format
        msg = CaptureFrame(cur.cfg.session, seq, fmt.sample_rate, fmt.channels,
                           cur.source.frame(seq), time.monotonic_ns())
        if not self.send("dsp", msg):
            return False
        cur.next_seq += 1
        self.frames_out += 1  # into the stats once per wake-up
        if cur.next_seq % PROGRESS_EVERY == 0:
            self.emit(cur.cfg.session, InputProgress(cur.next_seq))
        if cur.next_seq >= cur.total:
            cur.ended = True
            self.emit(cur.cfg.session, InputEnded(cur.next_seq))
            self.log.info("input ended after %d frames", cur.next_seq,
                          extra=session_extra(cur.cfg.session))
        return True

    def on_tick(self, now_ns: int) -> int | None:
        self.frames_out = 0
        next_ns = self._send_due(now_ns)
        if self.frames_out:
            self.stats.count("frames_out", self.frames_out)
        return next_ns

    def _send_due(self, now_ns: int) -> int | None:
        for session in self.due.pop_due(now_ns + SEND_AHEAD_NS):
            cur = self.cursors.get(session)
            if cur is None or cur.ended:
                continue
            if not cur.realtime:
                sent = 0
                while sent < FAST_BURST and not cur.ended and self._send_frame(cur):
                    sent += 1
                if not cur.ended:
                    # More to send: come straight back, unless the hop is full.
                    self.due.schedule(session, now_ns if sent == FAST_BURST else now_ns + RETRY_NS)
                continue
            lag = (now_ns - cur.due_ns(cur.next_seq)) // (cur.cfg.frame_ms * 1_000_000)
            if lag > MAX_LAG_FRAMES:
                self.stats.count("frames_skipped", int(lag))
                cur.next_seq = min(cur.total - 1, cur.next_seq + int(lag))
            blocked = False
            while not cur.ended and cur.due_ns(cur.next_seq) <= now_ns + SEND_AHEAD_NS:
                if not self._send_frame(cur):
                    blocked = True  # dsp gone or full: retry soon, do not spin
                    break
            if not cur.ended:
                retry = now_ns + RETRY_NS if blocked else cur.due_ns(cur.next_seq)
                self.due.schedule(session, retry)
        return self.due.next_due()


def main(argv: list[str] | None = None) -> int:
    return run_stage(CaptureStage, argv)


if __name__ == "__main__":
    sys.exit(main())
