"""A small fixed-depth jitter buffer: the caller's packets back in sequence order.

Packets are released as soon as they are next in sequence, so an orderly stream
passes straight through. A missing packet holds back the ones after it until
``depth`` of them wait (``depth`` packets of 20 ms: the most reordering it rides
out); then it is declared lost (``None`` in its place, for the caller to conceal)
and the waiting ones follow. Sequence numbers are 16-bit and wrap; a jump of more
than ``MAX_JUMP`` either way is a new stream (the sender restarted), not loss.

Counted: ``lost`` (never arrived in time), ``late`` (arrived after being declared
lost), ``reordered`` (arrived after a later packet, still in time), ``duplicate``
(a packet already held or played), ``resyncs`` (sequence jumps).
"""

from __future__ import annotations

from collections import deque
from typing import Final, Generic, TypeVar

T = TypeVar("T")

DEFAULT_DEPTH: Final = 3
MAX_JUMP: Final = 100  # 2 s of 20 ms packets
_PLAYED_MEMORY: Final = 64  # sequence numbers remembered to tell duplicates from late


def seq_delta(a: int, b: int) -> int:
    """``a - b`` for 16-bit sequence numbers, in ``[-32768, 32767]`` (wraparound)."""
    return (a - b + 0x8000) % 0x10000 - 0x8000


class JitterBuffer(Generic[T]):
    """Reorders items by RTP sequence number; lost ones come out as ``None``."""

    def __init__(self, depth: int = DEFAULT_DEPTH) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.depth = depth
        self.lost = 0
        self.late = 0
        self.reordered = 0
        self.duplicate = 0
        self.resyncs = 0
        self._next: int | None = None
        self._highest = 0
        self._held: dict[int, T] = {}
        self._played: deque[int] = deque(maxlen=_PLAYED_MEMORY)

    @property
    def held(self) -> int:
        """Packets waiting behind a gap."""
        return len(self._held)

    def push(self, seq: int, item: T) -> list[T | None]:
        """Take packet ``seq``; return what is now released, in order."""
        seq &= 0xFFFF
        out: list[T | None] = []
        if self._next is None:
            self._next = self._highest = seq
        delta = seq_delta(seq, self._next)
        if abs(delta) > MAX_JUMP:
            self.resyncs += 1
            out = self.drain()
            self._next = self._highest = seq
            delta = 0
        if delta < 0:
            if seq in self._played:
                self.duplicate += 1
            else:
                self.late += 1
            return out
        if seq in self._held:
            self.duplicate += 1
            return out
        if seq_delta(seq, self._highest) < 0:
            self.reordered += 1
        else:
            self._highest = seq
        self._held[seq] = item
        self._release(out, self.depth)
        return out

    def drain(self) -> list[T | None]:
        """Everything held, gaps as ``None`` (the stream ended or restarted)."""
        out: list[T | None] = []
        if self._next is not None:
            self._release(out, 1)
        return out

    def restart(self) -> list[T | None]:
        """A new stream (another SSRC): what is held comes out, the next packet starts over."""
        out = self.drain()
        self._next = None
        self._played.clear()
        return out

    def _release(self, out: list[T | None], depth: int) -> None:
        assert self._next is not None
        while self._held:
            item = self._held.pop(self._next, None)
            if item is not None:
                self._played.append(self._next)
            elif len(self._held) >= depth:
                self.lost += 1
            else:
                return
            out.append(item)
            self._next = (self._next + 1) & 0xFFFF
