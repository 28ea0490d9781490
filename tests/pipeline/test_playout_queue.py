"""PlayoutQueue: what plays when, and the played/received accounting truncation uses."""

from __future__ import annotations

import numpy as np

from pipeline.stages.playout_queue import FrameResult, PlayoutQueue

FRAME = 480  # 20 ms at 24 kHz


def pcm(n: int, start: int = 1) -> bytes:
    return (np.arange(start, start + n) % 30000).astype("<i2").tobytes()


def play(q: PlayoutQueue) -> tuple[np.ndarray, FrameResult]:
    out = bytearray(2 * FRAME)
    res = FrameResult()
    q.fill(out, res)
    return np.frombuffer(bytes(out), "<i2"), res


def test_empty_queue_plays_silence_and_is_idle() -> None:
    q = PlayoutQueue()
    frame, res = play(q)
    assert not frame.any() and res.filled == 0 and not res.started and not q.busy


def test_item_spanning_frames_plays_in_order_then_stops_when_done() -> None:
    q = PlayoutQueue()
    q.push("a", 0, pcm(700), rx_ns=5)
    f1, r1 = play(q)
    assert [i.item_id for i in r1.started] == ["a"] and r1.first_rx_ns == [5]
    assert np.array_equal(f1, np.frombuffer(pcm(700), "<i2")[:FRAME])
    f2, r2 = play(q)
    assert r2.filled == 220 and not f2[220:].any()
    assert r2.underrun  # mid-stream and dry: an audible gap
    assert q.items["a"].played == 700 and q.items["a"].received == 700
    q.mark_done("a")
    _, r3 = play(q)
    assert [i.item_id for i in r3.finished] == ["a"] and not r3.underrun
    assert not q.busy


def test_two_items_share_a_frame_back_to_back() -> None:
    q = PlayoutQueue()
    q.push("a", 0, pcm(100), 1)
    q.mark_done("a")
    q.push("b", 0, pcm(100, 500), 2)
    frame, res = play(q)
    assert res.filled == 200
    assert [i.item_id for i in res.started] == ["a", "b"]
    assert [i.item_id for i in res.finished] == ["a"]
    assert np.array_equal(frame[:100], np.frombuffer(pcm(100), "<i2"))
    assert np.array_equal(frame[100:200], np.frombuffer(pcm(100, 500), "<i2"))


def test_flush_reports_played_and_received_and_drops_late_audio() -> None:
    q = PlayoutQueue()
    q.push("a", 0, pcm(2000), 1)
    play(q)
    cut = q.flush()
    assert [(i.item_id, i.played, i.received, i.interrupted) for i in cut] == [
        ("a", FRAME, 2000, True)]
    frame, res = play(q)
    assert not frame.any() and res.filled == 0
    assert q.push("a", 0, pcm(100), 3) is None  # deltas still in flight for the cut item
    assert not q.busy


def test_flush_before_any_sample_played_reports_zero() -> None:
    q = PlayoutQueue()
    q.push("a", 0, pcm(500), 1)
    cut = q.flush()
    assert [(i.item_id, i.played, i.started) for i in cut] == [("a", 0, False)]


def test_item_done_without_audio_never_starts() -> None:
    q = PlayoutQueue()
    q.push("t", 0, b"", 1)
    q.mark_done("t")
    _, res = play(q)
    assert not res.started and not res.finished and not q.busy


def test_transcript_accumulates_until_flushed() -> None:
    q = PlayoutQueue()
    q.add_text("a", 0, "Hello ")  # text may lead the item's first audio
    q.push("a", 0, pcm(10), 1)
    q.add_text("a", 0, "there")
    assert q.items["a"].text == "Hello there" and q.items["a"].received == 10
    q.flush()
    q.add_text("a", 0, " ignored")
    assert q.items["a"].text == "Hello there"
