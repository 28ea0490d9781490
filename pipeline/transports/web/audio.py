"""Audio both ways of a WebRTC call, at the edge: decoded frames in, paced frames out.

Inbound, the caller's Opus is decoded on the edge's loop (``opus.py``, ``receiver.py``)
to mono int16 at 48 kHz; resampling to the model's rate is dsp's kernel's job.

Outbound, playout's paced 24 kHz frames are upsampled to Opus's 48 kHz by the native
resampler (:class:`OutboundAudio`, one stream per call) and wait in a queue of at
most ``MAX_QUEUED_FRAMES`` (the oldest beyond it dropped: the track never runs further
behind real time than its clock allows);
:class:`AgentTrack` is the ``MediaStreamTrack`` aiortc's sender reads: it paces
itself at 20 ms on the session timeline and only dequeues, sending a silent frame
when nothing is queued at its deadline, so the stream is steady and a barge-in
(:meth:`AgentTrack.flush`) is heard at the next frame. It hands aiortc Opus packets
it encoded itself (``opus.py``): aiortc would encode on a thread, one hop per frame.

Each frame's deadline is half a frame after its place on the timeline (playout's
``position``), so a frame playout sent on time is queued well before it. Playout starts
a reply reaching a quiet call on arrival, off its former 20 ms grid: the track's grid
follows the reply, in the silence before it (:meth:`FrameClock.defer`: that one
interval is longer than 20 ms and pts advances with the time, so the far end's jitter
buffer sees no jitter), rather than meeting its frames at a random phase, where a
loaded host's lateness tears the speech (silence inserted, late sends) and Chromium's
jitter buffer stretches it. A reply waits 10-20 ms here (10-30 ms on a fixed grid).
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import Callable
from typing import Final

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, Packet
from av.stream import Stream

from native.resample import Resampler
from pipeline.transports.web.opus import OpusEncoder

RATE: Final = 48000  # Opus's clock, in and out
FRAME_SAMPLES: Final = 960  # 20 ms at 48 kHz: aiortc's audio packetization
FRAME_NS: Final = 20_000_000
FRAME_BYTES: Final = 2 * FRAME_SAMPLES
TIME_BASE: Final = fractions.Fraction(1, RATE)
_SILENCE: Final = bytes(FRAME_BYTES)
# The track's deadlines sit half a frame after playout's ticks, so a frame playout
# sent on time is queued well before the deadline that takes it.
DEADLINE_PHASE_NS: Final = FRAME_NS // 2
# A frame due this little after the deadline at hand goes out with it (not worth a move).
MAX_EARLY_NS: Final = 1_000_000
# A sender that fell this far behind its deadlines skips ahead (keeping pts on time).
MAX_BEHIND_NS: Final = 5 * FRAME_NS
# Agent frames queued for the track (20 ms each): past this the oldest go (counted).
# Playout paces at 20 ms and the track takes one frame per deadline, so the queue holds
# about one frame. After the edge's loop stalled, playout's frames arrive together and
# the track, behind its deadlines, sends them back to back: the queue keeps as much as
# the track's clock tolerates being behind, so a stall shorter than that loses no audio
# (3 frames lost one in every such stall at 10 calls) and a longer one is cut by the
# clock and the queue alike. A barge-in empties the queue whatever it holds.
MAX_QUEUED_FRAMES: Final = MAX_BEHIND_NS // FRAME_NS
# Mid-spurt (a frame came within the last period and a half), an empty queue at the
# deadline waits this much longer for the next frame before sending silence: a frame
# playout sent on time but a loaded host delivered late is not torn out of the speech.
LATE_GRACE_S: Final = 0.008


class OutboundAudio:
    """The agent's audio for one call: playout frames in (any rate, mono int16),
    whole 20 ms frames at 48 kHz out. A gap in playout's frame numbers is a new
    talk spurt (playout sends nothing between items): the resampler starts afresh."""

    def __init__(self, max_frames: int = MAX_QUEUED_FRAMES) -> None:
        self.frames: deque[tuple[int | None, bytes]] = deque()  # (its deadline, 20 ms)
        self.max_frames = max_frames
        self.dropped = 0
        self._pending = bytearray()
        self._pending_ns: int | None = None  # the deadline of the pending audio's start
        self._resampler: Resampler | None = None
        self._in_rate = 0
        self._out = np.empty(0, dtype=np.int16)
        self._last_seq: int | None = None

    def push(self, seq: int, sample_rate: int, pcm: bytes, deadline_ns: int | None = None
             ) -> None:
        """Playout's frame ``seq`` at ``sample_rate``; ``deadline_ns``: when its start is
        due out (None: at any deadline). A spurt's later frames follow 20 ms apart."""
        if self._last_seq is None or seq != self._last_seq + 1 or sample_rate != self._in_rate:
            self._new_spurt(sample_rate)
            self._pending_ns = deadline_ns
        self._last_seq = seq
        if self._resampler is None:
            self._pending += pcm
        else:
            need = self._resampler.max_output(len(pcm) // 2)
            if len(self._out) < need:
                self._out = np.empty(need, dtype=np.int16)
            n = self._resampler.process_s16(pcm, self._out)
            self._pending += self._out[:n].tobytes()
        self._cut()

    def take(self) -> bytes | None:
        """The next whole frame, or None when nothing is queued."""
        return self.frames.popleft()[1] if self.frames else None

    def due_ns(self) -> int | None:
        """The next frame's deadline (None: nothing queued, or it is due at any)."""
        return self.frames[0][0] if self.frames else None

    def flush(self) -> int:
        """Barge-in: drop everything queued (and the resampler's history); frames dropped."""
        n = len(self.frames)
        self.frames.clear()
        self._pending.clear()
        self._last_seq = None
        if self._resampler is not None:
            self._resampler.reset()
        return n

    def _new_spurt(self, sample_rate: int) -> None:
        if self._pending:  # the last partial frame of the previous spurt, padded out
            self._pending += bytes(FRAME_BYTES - len(self._pending))
            self._cut()
        if sample_rate != self._in_rate:
            self._in_rate = sample_rate
            self._resampler = None if sample_rate == RATE else Resampler(sample_rate, RATE)
        elif self._resampler is not None:
            self._resampler.reset()

    def _cut(self) -> None:
        pending = self._pending
        while len(pending) >= FRAME_BYTES:
            self.frames.append((self._pending_ns, bytes(pending[:FRAME_BYTES])))
            del pending[:FRAME_BYTES]
            if self._pending_ns is not None:
                self._pending_ns += FRAME_NS
        while len(self.frames) > self.max_frames:
            self.frames.popleft()
            self.dropped += 1


class FrameClock:
    """Deadlines every 20 ms at ``anchor_ns + phase + k * frame`` (monotonic ns), and the
    pts of each frame; a caller far behind skips ahead, pts advancing with the time, and
    the grid moves later to a frame's own deadline (:meth:`defer`)."""

    def __init__(self, anchor_ns: int, now_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self.anchor_ns = anchor_ns + DEADLINE_PHASE_NS
        self.now_ns = now_ns
        self.deadline_ns: int | None = None
        self.pts = 0
        self.skipped = 0
        self.moved = 0

    def deadline_of(self, position: int, sample_rate: int) -> int:
        """The deadline of the audio at output sample ``position`` of the session timeline."""
        return self.anchor_ns + position * 1_000_000_000 // sample_rate

    def defer(self, deadline_ns: int) -> tuple[int, int]:
        """The deadline at hand moves later, to ``deadline_ns``, and the grid with it;
        pts advances with the time (a gap in the stream, not jitter). Returns what
        :meth:`next` does, for the moved deadline."""
        assert self.deadline_ns is not None and deadline_ns >= self.deadline_ns
        self.pts += (deadline_ns - self.deadline_ns) * RATE // 1_000_000_000
        self.deadline_ns = deadline_ns
        self.moved += 1
        return self.pts, deadline_ns - self.now_ns()

    def next(self) -> tuple[int, int]:
        """(pts of the next frame, ns to wait until its deadline; <= 0: due now)."""
        now = self.now_ns()
        if self.deadline_ns is None:
            ahead = -(-(now - self.anchor_ns) // FRAME_NS)  # first deadline not in the past
            self.deadline_ns = self.anchor_ns + max(0, ahead) * FRAME_NS
        else:
            self.deadline_ns += FRAME_NS
            self.pts += FRAME_SAMPLES
            behind = now - self.deadline_ns
            if behind > MAX_BEHIND_NS:
                frames = behind // FRAME_NS
                self.deadline_ns += frames * FRAME_NS
                self.pts += frames * FRAME_SAMPLES
                self.skipped += frames
        return self.pts, self.deadline_ns - now


class AgentTrack(MediaStreamTrack):
    """The agent's voice as an outgoing WebRTC audio track (48 kHz mono, 20 ms, Opus).

    ``recv`` (called by aiortc's sender) waits for the frame's deadline on the session
    timeline, then dequeues one frame or gives silence (it never waits for audio), and
    gives it encoded."""

    kind = "audio"

    def __init__(self, anchor_ns: int, clock: FrameClock | None = None) -> None:
        super().__init__()
        self.audio = OutboundAudio()
        self.clock = clock or FrameClock(anchor_ns)
        self.sent_audio = 0
        self.sent_silence = 0
        self.late_frames = 0  # taken within the grace, after their deadline
        self.underruns = 0  # silence sent mid-spurt: a frame came later than the grace
        self.flushed = 0
        self._arrived = asyncio.Event()
        self._last_push_ns = 0
        self._encoder = OpusEncoder()

    def push(self, seq: int, sample_rate: int, pcm: bytes, position: int | None = None
             ) -> None:
        """Playout's frame ``seq``, starting at output sample ``position`` of the session
        timeline (None: sent at the next deadline whatever its place)."""
        due = None if position is None else self.clock.deadline_of(position, sample_rate)
        self.audio.push(seq, sample_rate, pcm, due)
        self._last_push_ns = self.clock.now_ns()
        self._arrived.set()

    def flush(self) -> int:
        """Barge-in: nothing queued is sent; the next frame is silence."""
        self._last_push_ns = 0
        n = self.audio.flush()
        self.flushed += n
        return n

    async def recv(self) -> Packet[Stream]:  # type: ignore[override]  # aiortc sends packets too
        return self._encoder.encode(await self.next_frame())

    async def next_frame(self) -> AudioFrame:
        """The frame due at the next deadline: queued audio, or silence."""
        if self.readyState != "live":
            raise MediaStreamError
        pts, wait_ns = self.clock.next()
        if wait_ns > 0:
            await asyncio.sleep(wait_ns / 1e9)
        late = False
        if not self.audio.frames and self.clock.now_ns() - self._last_push_ns < FRAME_NS * 3 // 2:
            late = await self._arrival()
            self.underruns += not late
        pts, due = await self._on_grid(pts)
        pcm = self.audio.take() if due else None
        self.late_frames += late and pcm is not None
        if pcm is None:
            pcm = _SILENCE
            self.sent_silence += 1
        else:
            self.sent_audio += 1
        return audio_frame(pcm, pts)

    async def _arrival(self) -> bool:
        """Wait up to the grace for a frame late mid-spurt; whether one came."""
        self._arrived.clear()
        try:
            await asyncio.wait_for(self._arrived.wait(), LATE_GRACE_S)
        except TimeoutError:
            return False
        return bool(self.audio.frames)

    async def _on_grid(self, pts: int) -> tuple[int, bool]:
        """(pts, whether the next frame is due at the deadline at hand). A frame due
        within the next period, after this deadline, moves the grid to its deadline:
        waited for here, pts advanced. One due later still waits for a later deadline."""
        due, deadline = self.audio.due_ns(), self.clock.deadline_ns
        if due is None or deadline is None or due <= deadline + MAX_EARLY_NS:
            return pts, True
        if due >= deadline + FRAME_NS:
            return pts, False
        pts, wait_ns = self.clock.defer(due)
        if wait_ns > 0:
            await asyncio.sleep(wait_ns / 1e9)
        return pts, True

    def counters(self) -> dict[str, int]:
        return {"track_audio_frames": self.sent_audio, "track_silence_frames": self.sent_silence,
                "track_late_frames": self.late_frames, "track_underruns": self.underruns,
                "track_flushed_frames": self.flushed, "track_skipped_frames": self.clock.skipped,
                "track_moved_deadlines": self.clock.moved,
                "track_dropped_frames": self.audio.dropped}


def audio_frame(pcm: bytes, pts: int) -> AudioFrame:
    """One 20 ms mono s16 frame at 48 kHz, stamped for aiortc's encoder."""
    frame = AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
    frame.planes[0].update(pcm)
    frame.pts = pts
    frame.sample_rate = RATE
    frame.time_base = TIME_BASE
    return frame
