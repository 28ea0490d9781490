"""Plain-Python reference for ``native.chunker.Chunker``; used only by tests.

A growing numpy array instead of a ring: obviously correct, obviously slow.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

S16 = np.dtype("<i2")


class ChunkerRef:
    """Same contract as ``Chunker``: drop the new excess on overflow, fixed chunks out."""

    def __init__(self, chunk_samples: int, capacity_samples: int) -> None:
        if chunk_samples < 1:
            raise ValueError("chunk_samples")
        if capacity_samples < chunk_samples:
            raise ValueError("capacity_samples")
        self.chunk_samples = chunk_samples
        self.capacity_samples = capacity_samples
        self.buffered: npt.NDArray[np.int16] = np.zeros(0, dtype=S16)
        self.dropped_samples = 0

    @property
    def available(self) -> int:
        return int(self.buffered.size)

    def push(self, pcm: bytes) -> int:
        new = np.frombuffer(pcm, dtype=S16)
        room = self.capacity_samples - self.available
        kept, dropped = new[:room], new[room:]
        self.buffered = np.concatenate([self.buffered, kept])
        self.dropped_samples += dropped.size
        return int(dropped.size)

    def pop(self) -> npt.NDArray[np.int16] | None:
        if self.available < self.chunk_samples:
            return None
        chunk = self.buffered[: self.chunk_samples].copy()
        self.buffered = self.buffered[self.chunk_samples :]
        return chunk

    def pop_partial(self) -> tuple[npt.NDArray[np.int16], int]:
        real = self.buffered[: self.chunk_samples]
        chunk = np.zeros(self.chunk_samples, dtype=S16)
        chunk[: real.size] = real
        self.buffered = self.buffered[real.size :]
        return chunk, int(real.size)

    def reset(self) -> None:
        self.buffered = np.zeros(0, dtype=S16)
        self.dropped_samples = 0
