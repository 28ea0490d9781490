"""The jitter buffer on crafted sequences: each case asserts what came out and every count."""

from __future__ import annotations

from pipeline.transports.rtp.jitter import MAX_JUMP, JitterBuffer, seq_delta


def counts(jb: JitterBuffer[int]) -> dict[str, int]:
    return {"lost": jb.lost, "late": jb.late, "reordered": jb.reordered,
            "duplicate": jb.duplicate, "resyncs": jb.resyncs, "held": jb.held}


ZERO = {"lost": 0, "late": 0, "reordered": 0, "duplicate": 0, "resyncs": 0, "held": 0}


def feed(jb: JitterBuffer[int], seqs: list[int]) -> list[int | None]:
    out: list[int | None] = []
    for s in seqs:
        out += jb.push(s, s)
    return out


def test_seq_delta_wraps() -> None:
    assert seq_delta(0, 65535) == 1 and seq_delta(65535, 0) == -1
    assert seq_delta(5, 5) == 0 and seq_delta(32767, 0) == 32767 and seq_delta(32768, 0) == -32768


def test_in_order_packets_pass_straight_through_across_the_wrap() -> None:
    jb: JitterBuffer[int] = JitterBuffer(3)
    seqs = [65533, 65534, 65535, 0, 1, 2]
    for s in seqs:
        assert jb.push(s, s) == [s]
    assert counts(jb) == ZERO


def test_a_swapped_pair_is_put_back_in_order() -> None:
    jb: JitterBuffer[int] = JitterBuffer(3)
    assert feed(jb, [10, 12, 11, 13]) == [10, 11, 12, 13]
    assert counts(jb) == {**ZERO, "reordered": 1}


def test_reordering_across_the_wrap() -> None:
    jb: JitterBuffer[int] = JitterBuffer(3)
    assert feed(jb, [65534, 0, 65535, 1]) == [65534, 65535, 0, 1]
    assert counts(jb) == {**ZERO, "reordered": 1}


def test_a_lost_packet_is_declared_after_depth_packets_wait() -> None:
    jb: JitterBuffer[int] = JitterBuffer(3)
    assert feed(jb, [1, 3, 4]) == [1]
    assert jb.held == 2
    assert jb.push(5, 5) == [None, 3, 4, 5]
    assert counts(jb) == {**ZERO, "lost": 1}
    # It turns up after all: late, dropped.
    assert jb.push(2, 2) == []
    assert counts(jb) == {**ZERO, "lost": 1, "late": 1}


def test_a_burst_loss_gives_one_none_per_missing_packet() -> None:
    jb: JitterBuffer[int] = JitterBuffer(2)
    assert feed(jb, [100, 104, 105]) == [100, None, None, None, 104, 105]
    assert counts(jb) == {**ZERO, "lost": 3}


def test_duplicates_are_dropped_whether_held_or_played() -> None:
    jb: JitterBuffer[int] = JitterBuffer(3)
    assert feed(jb, [1, 1, 3, 3, 2, 2]) == [1, 2, 3]
    assert counts(jb) == {**ZERO, "duplicate": 3, "reordered": 1}


def test_a_big_jump_is_a_new_stream_not_a_loss() -> None:
    jb: JitterBuffer[int] = JitterBuffer(3)
    far = (7 + MAX_JUMP + 1) & 0xFFFF
    assert feed(jb, [5, 7, far, far + 1]) == [5, None, 7, far, far + 1]
    assert counts(jb) == {**ZERO, "resyncs": 1, "lost": 1}
    # Backwards by more than MAX_JUMP: the sender restarted its numbering.
    assert jb.push(3, 3) == [3]
    assert counts(jb) == {**ZERO, "resyncs": 2, "lost": 1}


def test_drain_and_restart_release_what_is_held() -> None:
    jb: JitterBuffer[int] = JitterBuffer(3)
    assert feed(jb, [1, 3]) == [1]
    assert jb.drain() == [None, 3]
    assert jb.drain() == []
    assert feed(jb, [4, 2]) == [4]  # 2 was declared lost: late
    assert counts(jb) == {**ZERO, "lost": 1, "late": 1}
    assert feed(jb, [6]) == []
    assert jb.restart() == [None, 6]
    assert jb.push(1000, 1000) == [1000]  # a fresh start, no jump
    assert counts(jb) == {**ZERO, "lost": 2, "late": 1}
