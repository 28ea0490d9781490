"""playout: a realtime clock per session; the agent's voice leaves here.

Every ``playout_frame_ms`` of the session timeline (origin ``t0``) one frame of
agent audio (or silence) is played, except that a reply reaching a quiet session
starts on arrival (the session's frame grid is re-anchored there) rather than at the
next frame of the old grid, which added up to a frame to every reply's latency. A
frame goes to the session's transport sink (for edge transports, to the edge stage,
which writes it to the connection) and to the session record, the right channel of
``conversation.wav`` at the clock's position, with the user's audio on the left at its
capture position. Events are stamped with the same clock and appended to
``events.jsonl``, then published to the supervisor. The record is written here for
every transport. A barge-in on a file call also takes back the part of the frame in
flight the timeline had not reached (``playout_session.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from ipc.schema import (
    AgentAudio,
    AgentItemDone,
    AgentPlayoutProgress,
    AgentStartedSpeaking,
    AgentStoppedSpeaking,
    AgentText,
    ControlMsg,
    DataMsg,
    EdgeHeard,
    PlayoutFlush,
    PlayoutInterrupt,
    SessionClosed,
    SessionConfig,
    SessionError,
    SessionEvent,
    SessionNote,
    SessionResumed,
    SessionStarted,
    StreamEvent,
    TruncatePoint,
    UserAudio,
    record_line,
)
from ipc.stats import TICK_LATENESS_COUNT, TICK_LATENESS_HOP
from pipeline.logs import session_extra
from pipeline.record.record_closer import RecordCloser
from pipeline.record.session_record import SessionRecord
from pipeline.stages.deadlines import DeadlineQueue
from pipeline.stages.playout_clock import SessionClock
from pipeline.stages.playout_glitches import Gap, GapTracker
from pipeline.stages.playout_heard import HeardAudio
from pipeline.stages.playout_queue import AgentItem, FrameResult, PlayoutQueue
from pipeline.stages.playout_session import SessionPlayout
from pipeline.stages.runner import HotStage, run_stage
from pipeline.transports.base import Sink, acknowledges_playback, served_by_capture
from pipeline.transports.edge_sink import EdgeSink
from pipeline.transports.file.sink import FileSink

# A clock further behind than this (the process was stopped, or starved) jumps
# to now: the frames it missed are gone, like on a live call.
MAX_LATE_FRAMES: Final = 10
# Frames due within this much of now are played in the same wake-up (one wake-up
# serves every session in the window); the transport buffers at least this much.
PLAY_AHEAD_NS: Final = 2_000_000
# With an agent attached, playback progress goes to the supervisor this often (in
# playout frames): the agent releases transcript words only once their audio played.
PROGRESS_EVERY_FRAMES: Final = 5
# While ended sessions' records are being written, the loop looks for finished ones
# at least this often (their closing events wait for it).
RECORD_POLL_NS: Final = 10_000_000
# Wake-ups whose lateness the tick-lateness hop keeps (the supervisor's admission
# control reads its recent p99; a short window so it follows the load).
LATENESS_WINDOW: Final = 1000


class PlayoutStage(HotStage):
    name = "playout"
    pushes_to = ("model", "edge")

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.playing: dict[str, SessionPlayout] = {}
        self.due = DeadlineQueue()
        # Sessions whose far end buffers the agent's audio and acknowledges what it played
        # (``EdgeHeard``, a media stream's marks): what it acknowledged is what played,
        # for truncation and progress (``playout_heard.py``).
        self.heard: dict[str, HeardAudio] = {}
        self.now_ns: Callable[[], int] = time.monotonic_ns  # the one clock (tests inject it)
        self.closer: RecordCloser[SessionPlayout] = RecordCloser()

    def on_session_start(self, cfg: SessionConfig, resumed: bool) -> None:
        frame_samples = cfg.output_rate * cfg.playout_frame_ms // 1000
        clock = SessionClock(cfg.t0_ns, cfg.playout_frame_ms * 1_000_000, frame_samples)
        # Resume on the timeline where the clock stands now (restart mid-call).
        clock.tick = max(0, (self.now_ns() - cfg.t0_ns) // clock.frame_ns)
        sp = SessionPlayout(cfg, clock, PlayoutQueue(),
                            SessionRecord(Path(cfg.out_dir), cfg.output_rate),
                            self._sink(cfg), bytearray(2 * frame_samples), GapTracker())
        self.playing[cfg.session] = sp
        if acknowledges_playback(cfg.transport):
            self.heard[cfg.session] = HeardAudio()
        self.due.schedule(cfg.session, clock.due_ns())
        opened = SessionResumed if resumed else SessionStarted
        self._log_event(sp, opened(cfg.t0_ns, os.getpid()))

    def _sink(self, cfg: SessionConfig) -> Sink:
        """Where the session's played frames go besides the record."""
        if served_by_capture(cfg.transport):
            return FileSink()
        return EdgeSink(cfg.session, cfg.output_rate, lambda msg: self.send("edge", msg))

    def on_session_end(self, session: str) -> None:
        sp = self.playing.pop(session, None)
        self.due.cancel(session)
        self.heard.pop(session, None)
        if sp is None:
            return
        sp.sink.close()
        self.stats.forget_session(session)
        self.closer.close(sp, sp.record)  # the WAV is written off the loop

    def close_records(self, wait: bool = False) -> None:
        """Log the closing event of each session whose record is now complete."""
        for done in self.closer.finished(wait):
            sp = done.key
            if done.error is not None:
                self.stats.count("record_finalize_errors")
                self.log.error("conversation.wav not written: %s", done.error,
                               extra=session_extra(sp.cfg.session))
                self._log_event(sp, SessionError(False, f"conversation.wav not written: "
                                                        f"{done.error}"))
            self._log_event(sp, SessionClosed(str(sp.record.wav_path), done.frames,
                                              done.frames / sp.cfg.output_rate))
            sp.record.close()

    def on_shutdown(self) -> None:
        super().on_shutdown()
        self.close_records(wait=True)
        self.closer.shutdown()

    # -- inbound ---------------------------------------------------------------
    def on_data(self, msg: DataMsg) -> None:
        sp = self.playing.get(msg.session)
        if sp is None:
            return
        now = self.now_ns()
        if isinstance(msg, AgentAudio):
            self.stats.hop("model_rx_to_playout_rx").record_ns(now - msg.model_rx_ns)
            quiet = sp.queue.quiet
            if sp.queue.push(msg.item_id, msg.content_index, msg.pcm, msg.model_rx_ns) is None:
                self.stats.count("agent_audio_dropped.flushed")
                return
            if sp.parked:
                self._unpark(sp, now)
            if quiet and msg.pcm and sp.start_on_arrival(now):
                self._play_due(sp, now)  # its first frame plays now, the rest follow on
        elif isinstance(msg, UserAudio):
            self.stats.hop("dsp_to_playout").record_ns(now - msg.dsp_ns)
            sp.record.write_user(msg.position, msg.pcm)
        elif isinstance(msg, AgentText):
            sp.queue.add_text(msg.item_id, msg.content_index, msg.delta)
        elif isinstance(msg, AgentItemDone):
            sp.queue.mark_done(msg.item_id, msg.interrupted)
        elif isinstance(msg, PlayoutFlush):
            self._flush(sp, msg.reason, msg.onset_ns, now)
        elif isinstance(msg, StreamEvent):
            self._log_event(sp, msg.event, origin="model", publish=msg.publish)
        elif isinstance(msg, EdgeHeard):
            if (heard := self.heard.get(msg.session)) is not None:
                heard.heard_up_to(msg.seq)
        else:
            self.stats.count("frames_dropped.unexpected_type")

    def on_control(self, msg: ControlMsg) -> None:
        if isinstance(msg, PlayoutInterrupt | SessionNote):
            sp = self.playing.get(msg.session)
            if sp is None:
                self.stats.count("control_dropped.unknown_session")
            elif isinstance(msg, PlayoutInterrupt):
                now = self.now_ns()
                cut = self._flush(sp, msg.reason, now, now)
                if msg.item_id and msg.item_id not in cut:
                    # The agent saw the item before its audio got here: refuse that audio
                    # when it comes, and tell the model nothing of it was played.
                    sp.queue.flushed.add(msg.item_id)
                    self.send("model", TruncatePoint(sp.cfg.session, msg.item_id, 0, 0, 0,
                                                     sp.cfg.output_rate, msg.reason))
            else:
                self._log_event(sp, msg.event, origin="agent", t_ms=msg.t_ms)
        else:
            super().on_control(msg)

    def _flush(self, sp: SessionPlayout, reason: str, onset_ns: int, now: int) -> set[str]:
        """Silence the session now; the ids of the items cut."""
        cut = sp.queue.flush()
        sp.unplay({item.item_id for item in cut}, now)
        sp.sink.flush(reason)
        self.stats.hop("bargein_to_flush").record_ns(now - onset_ns)
        if (heard := self.heard.get(sp.cfg.session)) is not None:
            for item in cut:  # what the far end had not played yet is lost with its buffer
                item.played = heard.played(item)
            heard.forget(item.item_id for item in cut)
        for item in cut:
            sp.gaps.stopped(item.item_id)
            self.send("model", TruncatePoint(sp.cfg.session, item.item_id, item.content_index,
                                             item.played, item.received, sp.cfg.output_rate,
                                             reason))
            if item.started:
                self._stopped(sp, item)
        sp.queue.forget_stopped()
        return {item.item_id for item in cut}

    # -- clock -----------------------------------------------------------------
    def on_tick(self, now_ns: int) -> int | None:
        if self.closer:
            self.close_records()
        first_due = self.due.next_due()
        if first_due is not None and first_due <= now_ns:
            self.stats.hop(TICK_LATENESS_HOP, LATENESS_WINDOW).record_ns(now_ns - first_due)
            self.stats.count(TICK_LATENESS_COUNT)
        for session in self.due.pop_due(now_ns + PLAY_AHEAD_NS):
            sp = self.playing.get(session)
            if sp is not None:
                self._play_due(sp, now_ns)
        next_due = self.due.next_due()
        if self.closer:  # records being written: look again soon
            soon = now_ns + RECORD_POLL_NS
            next_due = soon if next_due is None else min(next_due, soon)
        return next_due

    def _play_due(self, sp: SessionPlayout, now_ns: int) -> None:
        """Play the session's frames due by ``now_ns`` (and the play-ahead); schedule the next."""
        clock = sp.clock
        late = (now_ns - clock.due_ns()) // clock.frame_ns
        if late > MAX_LATE_FRAMES:
            self.stats.count("late_frames_skipped", int(late))
            sp.gaps.skipped()  # if the item's audio goes on after, the jump is in its gap
            clock.tick += int(late)
        while clock.due_ns() <= now_ns + PLAY_AHEAD_NS:
            self._play_frame(sp, now_ns)
            clock.tick += 1
        if sp.queue.idle:
            # Nothing to play until agent audio comes (``on_data`` wakes it): an idle
            # session costs no wake-ups, which most sessions are most of the time.
            sp.parked = True
            self.due.cancel(sp.cfg.session)
        else:
            self.due.schedule(sp.cfg.session, clock.due_ns())

    def _unpark(self, sp: SessionPlayout, now_ns: int) -> None:
        """Agent audio reached an idle session: its clock moves to the first frame not
        yet due, where it would stand had it ticked through the silence."""
        sp.clock.skip_to(now_ns)
        sp.parked = False
        self.due.schedule(sp.cfg.session, sp.clock.due_ns())

    def _play_frame(self, sp: SessionPlayout, now_ns: int) -> None:
        if sp.queue.idle:
            return  # silence: the recording's gaps read as zeros, nothing to write
        if sp.cfg.agent and sp.clock.tick % PROGRESS_EVERY_FRAMES == 0:
            # Before this frame is filled: what has been heard by its slot's start.
            self._progress(sp)
        result = FrameResult()
        sp.queue.fill(sp.frame, result)
        for rx in result.first_rx_ns:
            self.stats.hop("model_rx_to_first_played").record_ns(now_ns - rx)
        for item, rx in zip(result.started, result.first_rx_ns, strict=True):
            self._log_event(sp, AgentStartedSpeaking(item.item_id, sp.clock.position(),
                                                     round((now_ns - rx) / 1e6, 2)),
                            t_ms=sp.clock.slot_ms())
        sp.played(result)
        if result.filled:
            self._gap_over(sp, sp.gaps.played(sp.clock.position(), result.taken[0][0].item_id,
                                              result.taken[-1][0].item_id, result.filled))
            sp.record.write_agent(sp.clock.position(), memoryview(sp.frame)[: 2 * result.filled])
            sp.sink.write(sp.clock.seq(), sp.clock.position(), sp.frame)
            if (heard := self.heard.get(sp.cfg.session)) is not None:
                heard.sent(sp.clock.seq(), sp.queue.items.values())  # the sink's frame number
            self.stats.count("agent_samples_played", result.filled)
        if result.underrun and result.filled < sp.clock.frame_samples:
            self.stats.count("underrun_frames")  # padded with silence: a gap, if it resumes
        for item in result.finished:
            sp.gaps.stopped(item.item_id)
            self._stopped(sp, item, t_ms=sp.clock.slot_ms())
        if result.finished:
            sp.queue.forget_stopped()
            if (heard := self.heard.get(sp.cfg.session)) is not None:
                heard.forget(item.item_id for item in result.finished)

    def _gap_over(self, sp: SessionPlayout, gap: Gap | None) -> None:
        """A gap closed (the item's audio resumed after silence): counted for the session
        and logged at the timeline sample it began."""
        if gap is None:
            return
        frames = gap.frames(sp.clock.frame_samples)
        self.stats.count_session(sp.cfg.session, f"glitch_frames.{gap.cause}", frames)
        self._log_event(sp, gap.event(sp.clock.frame_samples),
                        t_ms=round(gap.position * 1000 / sp.cfg.output_rate, 1))

    def _progress(self, sp: SessionPlayout) -> None:
        """Bus only (not events.jsonl): how much of each playing item has played."""
        heard = self.heard.get(sp.cfg.session)
        for item in sp.queue.items.values():
            if item.started and not item.stopped:
                played = item.played if heard is None else heard.played(item)
                self.emit(sp.cfg.session, AgentPlayoutProgress(item.item_id, played),
                          t_ms=sp.clock.t_ms(self.now_ns()))

    def _stopped(self, sp: SessionPlayout, item: AgentItem, t_ms: float | None = None) -> None:
        text = item.text + ("..." if item.interrupted else "")
        self._log_event(sp, AgentStoppedSpeaking(
            item.item_id, item.interrupted,
            played_ms=round(item.played * 1000 / sp.cfg.output_rate, 1),
            received_ms=round(item.received * 1000 / sp.cfg.output_rate, 1),
            played_samples=item.played, text=text), t_ms=t_ms)

    # -- events ----------------------------------------------------------------
    def _log_event(self, sp: SessionPlayout, event: SessionEvent, origin: str = "playout",
                   publish: bool = True, t_ms: float | None = None) -> None:
        """Record and publish ``event`` at ``t_ms`` on the session timeline (default: now;
        events of a played frame take that frame's slot)."""
        if t_ms is None:
            t_ms = sp.clock.t_ms(self.now_ns())
        try:
            sp.record.log(record_line(sp.cfg.session, event, t_ms, origin))
        except OSError as exc:
            self.stats.count("event_log_errors")
            self.log.error("events.jsonl write failed: %s", exc,
                           extra=session_extra(sp.cfg.session))
        if publish:
            self.emit(sp.cfg.session, event, t_ms, origin)


def main(argv: list[str] | None = None) -> int:
    return run_stage(PlayoutStage, argv)


if __name__ == "__main__":
    sys.exit(main())
