"""The fewest deletions and insertions that turn one conversation into another.

``RealtimeSession.set_chat_ctx`` sends only these to the model, as livekit-agents
0.12 does (``utils/_message_change.py``): items the model has keep their place;
the rest are deleted and inserted after their predecessor. Two rules of the
Realtime API shape it: an item cannot be inserted before the first one (so when the
new first item is not the old first, everything before it goes), and an item that
changes place relative to others is deleted and inserted again.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class ChatChanges:
    to_delete: list[str]
    """Ids to delete, first."""
    to_add: list[tuple[str | None, str]]
    """Then, in order, (previous id or None for the start, id) to insert."""


def compute_changes(old: list[str], new: list[str]) -> ChatChanges:
    """The changes turning the id sequence ``old`` into ``new`` (ids unique in each)."""
    if not new:
        return ChatChanges(list(old), [])
    if new[0] not in old:
        return ChatChanges(list(old), list(zip([None, *new[:-1]], new, strict=True)))
    first = old.index(new[0])
    position = {item: i for i, item in enumerate(old)}
    kept = _longest_increasing(new, position, first)
    to_delete = [item for item in old if item not in kept]
    to_add: list[tuple[str | None, str]] = [
        (new[i - 1], item) for i, item in enumerate(new) if item not in kept]
    return ChatChanges(to_delete, to_add)


def _longest_increasing(new: list[str], position: dict[str, int], first: int) -> set[str]:
    """The most items of ``new`` (starting with ``new[0]``) whose places in the old list
    rise in order: those stay where they are."""
    tails: list[int] = []  # tails[k]: smallest end position of a chain of k+1 items
    parent: dict[str, str | None] = {new[0]: None}
    ends: list[str] = []
    for item in new[1:]:
        pos = position.get(item)
        if pos is None or pos <= first:
            continue
        k = bisect.bisect_left(tails, pos)
        parent[item] = ends[k - 1] if k else new[0]
        if k == len(tails):
            tails.append(pos)
            ends.append(item)
        else:
            tails[k], ends[k] = pos, item
    kept = {new[0]}
    node: str | None = ends[-1] if ends else None
    while node is not None:
        kept.add(node)
        node = parent[node]
    return kept
