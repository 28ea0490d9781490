"""``compute_changes`` on livekit-agents 0.12's own examples (``utils/_message_change.py``
at ``livekit-agents@0.12.21``) and a few more."""

from __future__ import annotations

import pytest

from pipeline.agents.llm.chat_diff import compute_changes


@pytest.mark.parametrize(("old", "new", "deleted", "added"), [
    # 0.12's docstring examples
    ("a b c d", "b c d e", "a", [("d", "e")]),
    ("a b c d", "e a b c d", "a b c d",
     [(None, "e"), ("e", "a"), ("a", "b"), ("b", "c"), ("c", "d")]),
    ("a b c d", "a b d e c", "d", [("b", "d"), ("d", "e")]),
    ("a b c d", "a d c b", "c d", [("a", "d"), ("d", "c")]),
    # more
    ("a b c", "a b c", "", []),
    ("a b c", "", "a b c", []),
    ("", "x y", "", [(None, "x"), ("x", "y")]),
    ("a b c d e", "a c e", "b d", []),
    ("a b c", "a x b y c", "", [("a", "x"), ("b", "y")]),
])
def test_fewest_changes(old: str, new: str, deleted: str,
                        added: list[tuple[str | None, str]]) -> None:
    changes = compute_changes(old.split(), new.split())
    assert changes.to_delete == deleted.split()
    assert changes.to_add == added
    # Applying them gives ``new``.
    items = [i for i in old.split() if i not in changes.to_delete]
    for previous, item in changes.to_add:
        items.insert(0 if previous is None else items.index(previous) + 1, item)
    assert items == new.split()
