"""A reply reaching a quiet session plays at its arrival, not at the next 20 ms slot.

Driven on an injected clock (``stage.now_ns``, ``on_tick(now_ns)``): a frame arriving
7 ms into a slot while the session is quiet is handed to the sink at once, placed at
its arrival's sample in the recording, and the frames after it follow 20 ms apart from
there; what played is what truncation reports. A barge-in mid-frame on a file call
cuts that frame where the timeline stands; on a live call the far end's flush decides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import numpy as np
import pytest

from ipc.schema import AgentAudio, AgentItemDone, PlayoutFlush, TruncatePoint
from pipeline.stages.playout import PlayoutStage
from pipeline.transports.file.sink import FileSink
from tests.pipeline.playout_harness import (
    FRAME,
    FRAME_NS,
    RATE,
    agent_channel,
    end_session,
    playout_stage,
    samples,
    start_session,
)

MS = 1_000_000
T0 = 10**15  # the session's origin on the injected clock
MID = 7 * MS  # how far into its slot the reply arrives
AT = (4 * FRAME_NS + MID) * RATE // 10**9  # the timeline sample of that moment


class SinkTap:
    """The session's sink, keeping what playout handed it: (seq, position, pcm)."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, int, bytes]] = []
        self.heard_on_timeline = False

    def write(self, seq: int, position: int, pcm: bytes | bytearray | memoryview) -> None:
        self.frames.append((seq, position, bytes(pcm)))

    def flush(self, reason: str) -> None:
        pass

    def close(self) -> None:
        pass


class Harness:
    """One quiet session on a stage whose clock the test sets."""

    def __init__(self, stage: PlayoutStage, tmp_path: Path) -> None:
        self.stage = stage
        self.now = T0
        stage.now_ns = lambda: self.now
        self.sent: list[msgspec.Struct] = []
        stage.send = lambda dst, msg: self.sent.append(msg) or True  # type: ignore[method-assign]
        self.cfg, self.out = start_session(stage, tmp_path, "s1", T0)
        self.sink = SinkTap()
        stage.playing["s1"].sink = self.sink

    def at(self, now_ns: int) -> None:
        """The clock reads ``now_ns``; the stage's wake-up runs."""
        self.now = now_ns
        self.stage.on_tick(now_ns)

    def reply(self, item: str, n: int, start: int = 0) -> None:
        pcm = samples(n, start).tobytes()
        self.stage.on_data(AgentAudio("s1", item, 0, 0, RATE, pcm, self.now))

    def events(self, kind: str) -> list[dict[str, object]]:
        lines = [json.loads(x) for x in (self.out / "events.jsonl").read_text().splitlines()]
        return [x for x in lines if x["type"] == kind]


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    with playout_stage() as stage:
        yield Harness(stage, tmp_path)


def test_a_reply_arriving_mid_slot_while_quiet_plays_at_its_arrival(h: Harness) -> None:
    for k in range(5):  # quiet frames 0..4; the grid's next frame is 5, at 100 ms
        h.at(T0 + k * FRAME_NS)
    h.now = T0 + 4 * FRAME_NS + MID
    h.reply("a", 3 * FRAME + 100)
    # Handed to the sink on arrival (no wake-up has run since), at the arrival's sample.
    assert [(seq, pos) for seq, pos, _ in h.sink.frames] == [(h.sink.frames[0][0], AT)]
    assert AT % FRAME != 0  # off the old grid: the old clock would have waited for 5 * FRAME
    started = h.events("agent_started_speaking")
    assert [(e["position"], e["t_ms"], e["rx_to_play_ms"]) for e in started] == [
        (AT, AT * 1000 / RATE, 0.0)]
    h.stage.on_data(AgentItemDone("s1", "a", False))
    # The next frames follow 20 ms apart from the arrival, not from the origin.
    for k in range(1, 6):
        h.at(T0 + 4 * FRAME_NS + MID + k * FRAME_NS)
    seqs = [seq for seq, _, _ in h.sink.frames]
    assert [pos for _, pos, _ in h.sink.frames] == [AT + k * FRAME for k in range(4)]
    assert seqs == list(range(seqs[0], seqs[0] + 4))
    stopped = h.events("agent_stopped_speaking")
    assert [(e["played_samples"], e["interrupted"]) for e in stopped] == [(3 * FRAME + 100, False)]
    end_session(h.stage, "s1")
    agent = agent_channel(h.out)
    sent = samples(3 * FRAME + 100, 0)
    assert not agent[:AT].any() and not agent[AT + sent.size:].any()
    assert np.array_equal(agent[AT:AT + sent.size], sent)


def test_a_reply_right_after_another_follows_it_and_one_after_a_pause_is_a_new_spurt(
        h: Harness) -> None:
    h.at(T0)
    h.now = T0 + MID
    first = FRAME * 7 * MS // FRAME_NS  # the sample 7 ms in
    h.reply("a", FRAME + 50)
    h.stage.on_data(AgentItemDone("s1", "a", False))
    h.at(T0 + MID + FRAME_NS)  # a's second frame: 50 samples, then silence to its end
    # "b" arrives while that frame is still being heard: it starts where the frame ends.
    h.now = T0 + MID + FRAME_NS + 3 * MS
    h.reply("b", FRAME)
    h.stage.on_data(AgentItemDone("s1", "b", False))
    h.at(T0 + MID + 2 * FRAME_NS)
    # "c" after a pause of 3.5 frames, mid-slot again.
    for k in range(3, 6):
        h.at(T0 + MID + k * FRAME_NS)
    later = T0 + MID + 5 * FRAME_NS + 10 * MS
    h.now = later
    h.reply("c", FRAME)
    c_at = (later - T0) * RATE // 10**9
    frames = [(seq - h.sink.frames[0][0], pos) for seq, pos, _ in h.sink.frames]
    assert frames[:3] == [(0, first), (1, first + FRAME), (2, first + 2 * FRAME)]
    # "c": a jump in the frame numbers (the far end starts a new talk spurt there),
    # even though the sample numbers alone would have it only 2.5 frames on.
    assert frames[3][1] == c_at and frames[3][0] > frames[2][0] + 1
    end_session(h.stage, "s1")
    agent = agent_channel(h.out)
    a, b, c = samples(FRAME + 50, 0), samples(FRAME, 0), samples(FRAME, 0)
    assert np.array_equal(agent[first:first + a.size], a)
    assert not agent[first + a.size:first + 2 * FRAME].any()
    assert np.array_equal(agent[first + 2 * FRAME:first + 3 * FRAME], b)
    assert not agent[first + 3 * FRAME:c_at].any()
    assert np.array_equal(agent[c_at:c_at + FRAME], c)


def test_truncation_reports_exactly_what_the_recording_has_after_a_start_on_arrival(
        h: Harness) -> None:
    h.at(T0)
    h.now = T0 + MID
    h.reply("a", 10 * FRAME)
    h.at(T0 + MID + FRAME_NS)
    h.at(T0 + MID + 2 * FRAME_NS)
    h.now = T0 + MID + 2 * FRAME_NS + 5 * MS
    h.stage.on_data(PlayoutFlush("s1", "local_vad", h.now))
    cut = [m for m in h.sent if isinstance(m, TruncatePoint)]
    assert [(m.item_id, m.played_samples, m.received_samples) for m in cut] == [
        ("a", 3 * FRAME, 10 * FRAME)]
    end_session(h.stage, "s1")
    assert np.count_nonzero(agent_channel(h.out)) == cut[0].played_samples


def test_audio_of_an_item_mid_stream_keeps_the_grid(h: Harness) -> None:
    h.at(T0)
    h.now = T0 + MID
    first = FRAME * 7 * MS // FRAME_NS
    h.reply("a", FRAME)  # plays at once; "a" is not done: it is mid-stream
    h.at(T0 + MID + FRAME_NS)  # ran dry: an underrun frame, nothing sent
    h.now = T0 + MID + FRAME_NS + 4 * MS
    h.reply("a", FRAME, FRAME)  # not a new spurt: it waits for the grid's next frame
    assert [pos for _, pos, _ in h.sink.frames] == [first]
    h.at(T0 + MID + 2 * FRAME_NS)
    assert [pos for _, pos, _ in h.sink.frames] == [first, first + 2 * FRAME]


def test_a_barge_in_mid_frame_cuts_the_frame_where_the_timeline_stands(h: Harness) -> None:
    # A file call (its record is its output): the frame in flight is heard up to the
    # flush, not to its end; the record and the truncation point agree to the sample.
    h.stage.playing["s1"].sink = FileSink()
    h.at(T0)
    h.now = T0 + MID
    first = FRAME * 7 * MS // FRAME_NS
    h.reply("a", 10 * FRAME)
    h.at(T0 + MID + FRAME_NS)  # a's second frame is handed over whole
    h.now = T0 + MID + FRAME_NS + 5 * MS  # 5 ms of it have been heard
    h.stage.on_data(PlayoutFlush("s1", "local_vad", h.now))
    heard = FRAME + FRAME * 5 * MS // FRAME_NS
    cut = [m for m in h.sent if isinstance(m, TruncatePoint)]
    assert [(m.item_id, m.played_samples) for m in cut] == [("a", heard)]
    stopped = h.events("agent_stopped_speaking")
    assert [(e["played_samples"], e["interrupted"]) for e in stopped] == [(heard, True)]
    end_session(h.stage, "s1")
    agent = agent_channel(h.out)
    assert np.array_equal(agent[first:first + heard], samples(heard, 0))
    assert not agent[:first].any() and not agent[first + heard:].any()


def test_a_barge_in_on_a_live_call_counts_the_frames_handed_over(h: Harness) -> None:
    # The far end plays whole frames and its own flush drops what it holds: playout
    # counts what it handed over, as before.
    h.at(T0)
    h.now = T0 + MID
    h.reply("a", 10 * FRAME)
    h.at(T0 + MID + FRAME_NS)
    h.now = T0 + MID + FRAME_NS + 5 * MS
    h.stage.on_data(PlayoutFlush("s1", "local_vad", h.now))
    cut = [m for m in h.sent if isinstance(m, TruncatePoint)]
    assert [(m.item_id, m.played_samples) for m in cut] == [("a", 2 * FRAME)]
    assert sum(len(pcm) // 2 for _, _, pcm in h.sink.frames) == 2 * FRAME


def test_a_reply_reaching_a_session_idle_through_a_stall_plays_on_arrival(h: Harness) -> None:
    # The stage was stopped for 30 frames while the session was idle: its clock was not
    # ticking (an idle session is parked), so there is nothing to catch up or skip.
    h.at(T0)
    h.now = T0 + 30 * FRAME_NS + MID
    h.reply("a", FRAME)
    assert [pos for _, pos, _ in h.sink.frames] == [30 * FRAME + MID * FRAME // FRAME_NS]
    h.at(h.now + FRAME_NS)
    assert "late_frames_skipped" not in h.stage.stats.snapshot()[0]
