"""The WebRTC transport's audio, without a network: frame conversion, the outgoing
track's queue, pacing and flush, and a peer connection that never connects."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from av import AudioFrame

from ipc.schema import SessionConfig, SessionEvent, WebAnswer, WebTransport
from pipeline.record.wav_writer import write_wav
from pipeline.transports.web.audio import (
    FRAME_BYTES,
    FRAME_NS,
    FRAME_SAMPLES,
    AgentTrack,
    FrameClock,
    OutboundAudio,
)
from pipeline.transports.web.connection import WebConnection
from tests.transports.web.client import WebCaller, frame_pcm


def _interleaved(n: int, channels: int) -> np.ndarray:
    return (np.arange(n * channels) % 30000 - 15000).astype(np.int16)


@pytest.mark.parametrize("channels", [1, 2])
def test_packed_frames_give_their_samples_as_they_are(channels: int) -> None:
    pcm = _interleaved(960, channels)
    layout = "mono" if channels == 1 else "stereo"
    frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout=layout)
    assert frame_pcm(frame) == pcm.tobytes()


def test_planar_and_float_frames_are_interleaved_int16() -> None:
    pcm = _interleaved(480, 2).reshape(-1, 2)
    planar = AudioFrame.from_ndarray(np.ascontiguousarray(pcm.T), format="s16p", layout="stereo")
    assert frame_pcm(planar) == pcm.tobytes()
    flt = AudioFrame.from_ndarray(np.ascontiguousarray(pcm.T / 32768.0, dtype=np.float32),
                                  format="fltp",
                                  layout="stereo")
    assert np.array_equal(np.frombuffer(frame_pcm(flt), dtype="<i2"), pcm.reshape(-1))


def _tone(n: int, rate: int, seq: int = 0) -> bytes:
    t = (np.arange(n) + seq * n) / rate
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


def test_outbound_audio_upsamples_playout_frames_to_whole_20ms_frames() -> None:
    out = OutboundAudio(max_frames=10)
    for seq in range(10):
        out.push(seq, 24000, _tone(480, 24000, seq))
    frames = [pcm for _, pcm in out.frames]
    assert len(frames) == 10 and all(len(f) == FRAME_BYTES for f in frames)
    x = np.frombuffer(b"".join(frames), dtype="<i2").astype(np.float64)
    # A 440 Hz tone at 48 kHz: its spectrum peaks there.
    spectrum = np.abs(np.fft.rfft(x[1000:]))
    assert abs(np.argmax(spectrum) * 48000 / len(x[1000:]) - 440) < 5
    assert out.take() == frames[0] and len(out.frames) == 9


def test_outbound_audio_pads_a_spurt_tail_and_bounds_its_queue() -> None:
    out = OutboundAudio(max_frames=3)
    out.push(0, 48000, bytes(FRAME_BYTES // 2))  # half a frame, then a gap in playout's ticks
    assert not out.frames
    out.push(5, 48000, bytes(FRAME_BYTES))
    assert len(out.frames) == 2  # the padded half, then the new frame
    for seq in range(6, 10):
        out.push(seq, 48000, bytes(FRAME_BYTES))
    assert len(out.frames) == 3 and out.dropped == 3


def test_flush_drops_everything_queued() -> None:
    out = OutboundAudio(max_frames=10)
    for seq in range(5):
        out.push(seq, 24000, _tone(480, 24000, seq))
    assert out.flush() == 5
    assert out.take() is None
    out.push(6, 24000, _tone(480, 24000))
    assert len(out.frames) == 1


class FakeNow:
    def __init__(self, ns: int) -> None:
        self.ns = ns

    def __call__(self) -> int:
        return self.ns


def test_frame_clock_deadlines_sit_between_playout_ticks_and_skip_when_far_behind() -> None:
    now = FakeNow(1_000_000_000 + 3 * FRAME_NS + 1)
    clock = FrameClock(1_000_000_000, now)
    pts, wait = clock.next()
    # Deadlines at anchor + half a frame + k frames: the first one not yet past.
    assert pts == 0 and now.ns + wait == 1_000_000_000 + FRAME_NS // 2 + 3 * FRAME_NS
    now.ns += wait
    pts, wait = clock.next()
    assert pts == FRAME_SAMPLES and wait == FRAME_NS
    now.ns += wait + 10 * FRAME_NS  # the sender stalled for 10 frames
    pts, wait = clock.next()
    # It skipped to the deadline now due, and pts kept pace with the time.
    assert clock.skipped == 9 and wait == 0
    assert pts == (2 + clock.skipped) * FRAME_SAMPLES


def test_agent_track_dequeues_or_gives_silence_with_pts_and_time_base() -> None:
    async def run() -> list[AudioFrame]:
        now = FakeNow(0)
        track = AgentTrack(0, FrameClock(-FRAME_NS // 2, now))  # deadlines at 0, 20 ms ...
        track.push(0, 48000, b"\x01\x00" * FRAME_SAMPLES)
        frames = [await track.next_frame()]
        now.ns = 2 * FRAME_NS  # past the deadline, two frames after the last push: no grace
        frames.append(await track.next_frame())
        track.push(1, 48000, b"\x02\x00" * FRAME_SAMPLES)
        track.push(2, 48000, b"\x03\x00" * FRAME_SAMPLES)
        assert track.flush() == 2
        frames.append(await track.next_frame())
        track.stop()
        return frames

    frames = asyncio.run(run())
    assert [f.pts for f in frames] == [0, FRAME_SAMPLES, 2 * FRAME_SAMPLES]
    assert all(f.time_base == Fraction(1, 48000) and f.sample_rate == 48000 for f in frames)
    assert all(f.samples == FRAME_SAMPLES and f.layout.name == "mono" for f in frames)
    values = [set(np.frombuffer(frame_pcm(f), dtype="<i2").tolist()) for f in frames]
    assert values == [{1}, {0}, {0}]


def test_a_spurts_frames_carry_deadlines_20_ms_apart_from_its_first() -> None:
    out = OutboundAudio(max_frames=10)
    for seq in range(3):
        out.push(seq, 24000, _tone(480, 24000, seq), 5_000_000 + seq * FRAME_NS)
    out.push(7, 24000, _tone(480, 24000), 900_000_000)  # a new spurt: its own deadline
    out.push(9, 24000, _tone(480, 24000))  # and one due at any deadline
    assert [due for due, _ in out.frames] == [5_000_000, 25_000_000, 45_000_000,
                                              900_000_000, None]
    assert out.due_ns() == 5_000_000


def _sent(pushes: list[tuple[int, int]], deadlines: int) -> tuple[list[AudioFrame], AgentTrack]:
    """A track on deadlines 0, 20 ms, ... (its host always on time): the frame of its
    first deadline, then of ``deadlines`` more, the 48 kHz (value, timeline position)
    frames ``pushes`` queued after the first. The timeline starts half a frame before
    the first deadline, so audio at position p ms is due at p ms."""
    async def run() -> tuple[list[AudioFrame], AgentTrack]:
        clock = FrameClock(-FRAME_NS // 2, lambda: clock.deadline_ns or 0)
        track = AgentTrack(0, clock)
        frames = [await track.next_frame()]
        for seq, (value, position) in enumerate(pushes):
            track.push(seq, 48000, value.to_bytes(2, "little") * FRAME_SAMPLES, position)
        frames += [await track.next_frame() for _ in range(deadlines)]
        track.stop()
        return frames, track

    return asyncio.run(run())


def _values(frames: list[AudioFrame]) -> list[set[int]]:
    return [set(np.frombuffer(frame_pcm(f), dtype="<i2").tolist()) for f in frames]


def test_the_grid_moves_later_to_a_reply_that_starts_off_it() -> None:
    # A reply due out at 37 ms: after the deadline of 20 ms, before the one of 40 ms.
    ms = FRAME_SAMPLES // 20
    frames, track = _sent([(1, 37 * ms), (2, 37 * ms + FRAME_SAMPLES)], 3)
    assert _values(frames) == [{0}, {1}, {2}, {0}]
    # The deadline of 20 ms moved to 37 ms: pts went with the time, then 20 ms a frame.
    assert [f.pts for f in frames] == [0, 37 * ms, 37 * ms + FRAME_SAMPLES,
                                       37 * ms + 2 * FRAME_SAMPLES]
    assert track.counters()["track_moved_deadlines"] == 1
    assert track.clock.deadline_ns == 77_000_000


def test_a_frame_due_by_the_deadline_at_hand_keeps_the_grid() -> None:
    ms = FRAME_SAMPLES // 20
    frames, track = _sent([(1, 5 * ms), (2, 5 * ms + FRAME_SAMPLES)], 2)
    assert _values(frames) == [{0}, {1}, {2}]
    assert [f.pts for f in frames] == [0, FRAME_SAMPLES, 2 * FRAME_SAMPLES]
    assert track.counters()["track_moved_deadlines"] == 0


def test_a_frame_due_after_the_next_deadline_waits_for_it() -> None:
    ms = FRAME_SAMPLES // 20
    frames, track = _sent([(1, 55 * ms)], 2)  # silence at 20 ms, then 40 moved to 55
    assert _values(frames) == [{0}, {0}, {1}]
    assert [f.pts for f in frames] == [0, FRAME_SAMPLES, 55 * ms]
    assert track.counters()["track_moved_deadlines"] == 1


def test_a_peer_that_never_connects_is_closed_and_its_input_ends(tmp_path: Path) -> None:
    wav = tmp_path / "quiet.wav"
    write_wav(wav, np.zeros(16000, dtype=np.int16), 16000)

    async def run() -> tuple[list[SessionEvent], bytes, str]:
        caller = WebCaller(wav)
        spec: WebTransport = await caller.offer()
        events: list[SessionEvent] = []
        conn = WebConnection(SessionConfig("s1", 0, str(tmp_path), spec), events.append,
                             connect_timeout_s=0.5)
        fmt = await conn.open()
        assert (fmt.sample_rate, fmt.channels) == (48000, 1)  # decoded to mono
        # The caller never applies the answer: no ICE, no DTLS.
        chunk = await asyncio.wait_for(conn.receive(), 10)
        reason = conn.ended_reason
        await conn.close()
        await caller.close()
        return events, chunk, reason

    events, chunk, reason = asyncio.run(run())
    assert chunk == b"" and "not connected" in reason
    assert len(events) == 1 and isinstance(events[0], WebAnswer)
    assert events[0].pc_id == "caller"
