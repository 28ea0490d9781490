"""HeardAudio: what a far end that acknowledges playback has heard of each item."""

from __future__ import annotations

from pipeline.stages.playout_heard import HeardAudio
from pipeline.stages.playout_queue import AgentItem


def _item(item_id: str, played: int) -> AgentItem:
    return AgentItem(item_id, 0, received=played, played=played, started=True)


def test_nothing_is_heard_until_a_tick_is_acknowledged() -> None:
    heard = HeardAudio()
    a = _item("a", 480)
    heard.sent(100, [a])
    a.played = 960
    heard.sent(101, [a])
    assert heard.played(a) == 0
    heard.heard_up_to(100)
    assert (heard.played(a), heard.heard) == (480, {"a": 480})
    heard.heard_up_to(105)  # past the last tick sent: all of it
    assert heard.played(a) == 960


def test_a_tick_that_ends_one_item_and_starts_the_next_counts_both() -> None:
    heard = HeardAudio()
    a, b = _item("a", 480), _item("b", 0)
    heard.sent(1, [a, b])
    a.played, b.played = 600, 360  # tick 2: a's last 120 samples, then b's first 360
    heard.sent(2, [a, b])
    heard.heard_up_to(2)
    assert (heard.played(a), heard.played(b)) == (600, 360)


def test_items_unchanged_by_a_tick_add_nothing_to_remember() -> None:
    heard = HeardAudio()
    a, done = _item("a", 480), _item("done", 960)
    heard.sent(1, [a, done])
    heard.sent(2, [done])  # done played nothing more
    assert heard.unheard == 2


def test_a_forgotten_item_leaves_nothing_behind() -> None:
    heard = HeardAudio()
    a, b = _item("a", 480), _item("b", 480)
    heard.sent(1, [a, b])
    heard.forget(["a"])
    assert heard.unheard == 1
    heard.heard_up_to(1)
    assert heard.heard == {"b": 480} and heard.unheard == 0
    assert heard.played(a) == 0


def test_unacknowledged_ticks_are_bounded() -> None:
    heard = HeardAudio(max_unheard=2)
    a = _item("a", 0)
    for tick in range(4):
        a.played += 480
        heard.sent(tick, [a])
    assert heard.forgotten == 2
    heard.heard_up_to(2)
    assert heard.played(a) == 3 * 480
