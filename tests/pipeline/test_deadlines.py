"""DeadlineQueue: due keys come out once, in order; rescheduled and cancelled keys behave."""

from __future__ import annotations

from pipeline.stages.deadlines import DeadlineQueue


def test_due_keys_once_in_time_order() -> None:
    q = DeadlineQueue()
    q.schedule("b", 20)
    q.schedule("a", 10)
    q.schedule("c", 30)
    assert q.next_due() == 10
    assert q.pop_due(25) == ["a", "b"]
    assert q.pop_due(25) == []
    assert q.next_due() == 30 and len(q) == 1


def test_reschedule_replaces_and_cancel_removes() -> None:
    q = DeadlineQueue()
    q.schedule("a", 10)
    q.schedule("a", 50)  # the 10 entry is now stale
    q.schedule("b", 20)
    q.cancel("b")
    assert q.next_due() == 50
    assert q.pop_due(40) == []
    assert q.pop_due(50) == ["a"]
    assert q.next_due() is None and len(q) == 0
