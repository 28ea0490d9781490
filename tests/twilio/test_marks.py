"""The mark clock: echoes say which playout tick was heard; a clear makes echoes stale."""

from __future__ import annotations

from pipeline.transports.twilio.marks import MarkClock, mark_name


def test_an_echo_hears_its_tick_and_every_mark_before_it() -> None:
    clock = MarkClock()
    names = [clock.sent(seq) for seq in (10, 11, 12, 14)]
    assert names == ["vp10", "vp11", "vp12", "vp14"]
    assert clock.echo("vp11") == 11
    assert (clock.heard_seq, clock.echoed, clock.stale) == (11, 1, 0)
    assert list(clock.pending) == [("vp12", 12), ("vp14", 14)]
    assert clock.unheard_frames == 2


def test_an_echo_of_a_cleared_mark_is_stale_and_moves_nothing() -> None:
    clock = MarkClock()
    for seq in range(5):
        clock.sent(seq)
    assert clock.echo("vp1") == 1
    assert clock.clear() == 3
    assert [clock.echo(mark_name(seq)) for seq in (2, 3, 4)] == [None, None, None]
    assert (clock.heard_seq, clock.echoed, clock.stale, clock.unheard_frames) == (1, 1, 3, 0)


def test_an_echo_of_a_mark_never_sent_is_stale() -> None:
    clock = MarkClock()
    clock.sent(7)
    assert clock.echo("their-own-mark") is None
    assert (clock.heard_seq, clock.stale, list(clock.pending)) == (None, 1, [("vp7", 7)])


def test_a_far_end_that_never_echoes_costs_a_bounded_memory() -> None:
    clock = MarkClock(max_pending=3)
    for seq in range(5):
        clock.sent(seq)
    assert [seq for _, seq in clock.pending] == [2, 3, 4]
    assert clock.forgotten == 2
    assert clock.echo("vp0") is None and clock.echo("vp3") == 3
