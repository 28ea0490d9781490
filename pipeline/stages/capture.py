"""capture: transport ingress. Reads each session's input and stamps 10 ms frames.

File inputs are paced in real time against the session's timeline origin
(frame k is due at ``t0 + k * 10 ms``), or as fast as the dsp hop accepts them.
After the file, ``tail_silence_ms`` of silence keeps the microphone open so a
model's server VAD can close the last turn, as a live caller's line would.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Final

from ipc.schema import CaptureFrame, SessionConfig
from pipeline.logs import session_extra
from pipeline.stages.deadlines import DeadlineQueue
from pipeline.stages.runner import HotStage, run_stage
from pipeline.transports.file.wav_reader import WavSource

# Frames read from disk at once; slicing a block is far cheaper than a read per frame.
READ_BLOCK_FRAMES: Final = 100
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
    source: WavSource
    frame_samples: int  # per channel, per 10 ms frame
    total: int  # frames including the tail of silence
    next_seq: int
    block_start: int = -1
    block: bytes = b""
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

    def on_session_start(self, cfg: SessionConfig, resumed: bool) -> None:
        try:
            source = WavSource.open(cfg.input_path)
        except (OSError, ValueError) as exc:
            self.log.error("cannot open input: %s", exc, extra=session_extra(cfg.session))
            self.emit(cfg.session, "error", {"fatal": True, "message": str(exc)})
            return
        frame_samples = cfg.input_rate * cfg.frame_ms // 1000
        file_frames = -(-source.frames // frame_samples)
        total = file_frames + cfg.tail_silence_ms // cfg.frame_ms
        seq = cfg.resume_frame
        if cfg.realtime:
            # Resume where the clock says the caller is now, not where we died.
            elapsed = (time.monotonic_ns() - cfg.t0_ns) // (cfg.frame_ms * 1_000_000)
            seq = max(seq, int(elapsed))
        cur = self.cursors[cfg.session] = InputCursor(cfg, source, frame_samples, total, seq)
        self.due.schedule(cfg.session, cur.due_ns(seq))
        if resumed:
            self.log.info("resumed input at frame %d", seq, extra=session_extra(cfg.session))

    def on_session_end(self, session: str) -> None:
        cur = self.cursors.pop(session, None)
        self.due.cancel(session)
        if cur is not None:
            cur.source.close()

    def _frame_pcm(self, cur: InputCursor, seq: int) -> bytes:
        fs, ch = cur.frame_samples, cur.source.channels
        start = seq * fs
        if start >= cur.source.frames:
            return bytes(2 * fs * ch)
        if cur.block_start < 0 or not cur.block_start <= seq < cur.block_start + READ_BLOCK_FRAMES:
            cur.block_start = seq
            cur.block = cur.source.read_s16(start, fs * READ_BLOCK_FRAMES)
        off = (seq - cur.block_start) * fs * ch * 2
        pcm = cur.block[off : off + fs * ch * 2]
        if len(pcm) < fs * ch * 2:  # the file's last, partial frame
            pcm = pcm + bytes(fs * ch * 2 - len(pcm))
        return pcm

    def _send_frame(self, cur: InputCursor) -> bool:
        seq = cur.next_seq
        pcm = self._frame_pcm(cur, seq)
        msg = CaptureFrame(
            cur.cfg.session, seq, cur.source.sample_rate, cur.source.channels, pcm,
            time.monotonic_ns(),
        )
        if not self.send("dsp", msg):
            return False
        cur.next_seq += 1
        self.stats.count("frames_out")
        if cur.next_seq % PROGRESS_EVERY == 0:
            self.emit(cur.cfg.session, "input_progress", {"frame": cur.next_seq})
        if cur.next_seq >= cur.total:
            cur.ended = True
            self.emit(cur.cfg.session, "input_ended", {"frames": cur.next_seq})
            self.log.info("input ended after %d frames", cur.next_seq,
                          extra=session_extra(cur.cfg.session))
        return True

    def on_tick(self, now_ns: int) -> int | None:
        for session in self.due.pop_due(now_ns + SEND_AHEAD_NS):
            cur = self.cursors.get(session)
            if cur is None or cur.ended:
                continue
            if not cur.cfg.realtime:
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
