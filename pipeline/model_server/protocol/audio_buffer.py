"""The input audio buffer: uncommitted user audio on the session's timeline.

Positions are sample indices on the session timeline (samples appended since
the session began), the clock `audio_start_ms`/`audio_end_ms` are counted on.
The buffer is bounded: an append that would exceed `max_samples` is refused
whole, never truncated silently, so memory per session has a hard cap.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

from .wire import SAMPLE_RATE

DEFAULT_MAX_SECONDS = 15 * 60


class BufferFull(Exception):
    """An append would grow the buffer past its bound."""


class InputAudioBuffer:
    """Uncommitted pcm16 samples, stored as the appended chunks (no copying on append)."""

    def __init__(self, max_samples: int = DEFAULT_MAX_SECONDS * SAMPLE_RATE) -> None:
        self.max_samples = max_samples
        self._chunks: deque[npt.NDArray[np.int16]] = deque()
        self._start = 0
        self._end = 0

    @property
    def start(self) -> int:
        """Timeline index of the first buffered sample."""
        return self._start

    @property
    def end(self) -> int:
        """Timeline index one past the last buffered sample (= samples ever appended)."""
        return self._end

    def __len__(self) -> int:
        return self._end - self._start

    def append(self, samples: npt.NDArray[np.int16]) -> None:
        """Add samples at the end; raise `BufferFull` (and keep nothing) past the bound."""
        if len(self) + samples.size > self.max_samples:
            raise BufferFull(
                f"input audio buffer would hold {len(self) + samples.size} samples, "
                f"over its limit of {self.max_samples}"
            )
        if samples.size:
            self._chunks.append(samples)
            self._end += samples.size

    def take(self, until: int) -> npt.NDArray[np.int16]:
        """Remove and return the samples from `start` up to timeline index `until`."""
        until = min(max(until, self._start), self._end)
        audio = self._slice(until)
        self.drop(until)
        return audio

    def peek(self) -> npt.NDArray[np.int16]:
        """A copy of every buffered sample, leaving the buffer as it is."""
        return self._slice(self._end)

    def drop(self, until: int) -> None:
        """Discard samples before timeline index `until` (clamped to the buffer)."""
        until = min(max(until, self._start), self._end)
        remove = until - self._start
        while remove and self._chunks:
            head = self._chunks[0]
            if head.size <= remove:
                self._chunks.popleft()
                remove -= head.size
            else:
                self._chunks[0] = head[remove:]
                remove = 0
        self._start = until

    def clear(self) -> None:
        """Discard everything; the timeline keeps counting from `end`."""
        self.drop(self._end)

    def _slice(self, until: int) -> npt.NDArray[np.int16]:
        need = until - self._start
        out = np.empty(need, dtype=np.int16)
        filled = 0
        for chunk in self._chunks:
            if filled >= need:
                break
            n = min(chunk.size, need - filled)
            out[filled : filled + n] = chunk[:n]
            filled += n
        return out
