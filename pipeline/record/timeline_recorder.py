"""One timeline for a conversation: user and agent audio placed at absolute sample positions.

Each track is a raw int16 mono file in the session directory written with
``os.pwrite`` at ``pos * 2``. The page cache keeps every completed write when
the owning process is SIGKILLed, so a restarted process opens a new recorder on
the same directory and carries on; holes left by gaps read back as zeros
(silence). ``finalize`` interleaves both tracks into a stereo WAV block by block.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import numpy as np
import numpy.typing as npt

from pipeline.record.wav_writer import WavWriter

USER_TRACK: Final = "user.pcm"
AGENT_TRACK: Final = "agent.pcm"
_SAMPLE_BYTES: Final = 2


class _Track:
    """A raw int16 mono file written positionally."""

    __slots__ = ("end", "fd", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        # A write cut by a kill can at worst leave half a sample; it is dropped.
        self.end = os.fstat(self.fd).st_size // _SAMPLE_BYTES

    def write(self, pos: int, pcm: bytes | bytearray | memoryview) -> None:
        if pos < 0:
            raise ValueError(f"{self.path.name}: negative position {pos}")
        if len(pcm) % _SAMPLE_BYTES:
            raise ValueError(f"{self.path.name}: odd PCM length {len(pcm)} (expected int16)")
        if not pcm:
            return
        view = memoryview(pcm)
        offset = pos * _SAMPLE_BYTES
        while view:  # pwrite to a regular file is short only on signals or a full disk
            n = os.pwrite(self.fd, view, offset)
            view, offset = view[n:], offset + n
        self.end = max(self.end, pos + len(pcm) // _SAMPLE_BYTES)

    def read_into(self, out: npt.NDArray[np.int16], start: int) -> None:
        """Fill ``out`` (int16 column view) with samples from ``start``; zeros past the end."""
        want = len(out)
        raw = os.pread(self.fd, want * _SAMPLE_BYTES, start * _SAMPLE_BYTES)
        got = len(raw) // _SAMPLE_BYTES
        out[:got] = np.frombuffer(raw, dtype="<i2", count=got)
        out[got:] = 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class TimelineRecorder:
    """Records user (left) and agent (right) int16 mono audio on one sample timeline."""

    def __init__(self, session_dir: Path, sample_rate: int = 24_000) -> None:
        if sample_rate < 1:
            raise ValueError(f"sample_rate must be >= 1, got {sample_rate}")
        self.session_dir = Path(session_dir)
        self.sample_rate = sample_rate
        self.session_dir.mkdir(parents=True, exist_ok=True)
        self._user = _Track(self.session_dir / USER_TRACK)
        try:
            self._agent = _Track(self.session_dir / AGENT_TRACK)
        except BaseException:
            self._user.close()
            raise
        self._closed = False

    @property
    def user_end(self) -> int:
        """One past the last user sample written (samples from timeline start)."""
        return self._user.end

    @property
    def agent_end(self) -> int:
        """One past the last agent sample written (samples from timeline start)."""
        return self._agent.end

    def write_user(self, pos: int, pcm: bytes | bytearray | memoryview) -> None:
        """Place int16 LE mono ``pcm`` on the user track at sample ``pos`` (overwrites)."""
        self._check_open()
        self._user.write(pos, pcm)

    def write_agent(self, pos: int, pcm: bytes | bytearray | memoryview) -> None:
        """Place int16 LE mono ``pcm`` on the agent track at sample ``pos`` (overwrites)."""
        self._check_open()
        self._agent.write(pos, pcm)

    def finalize(self, out_path: Path) -> int:
        """Write the stereo conversation WAV atomically, remove the raw tracks, close.

        Returns the frame count: the longer of the two tracks.
        """
        self._check_open()
        frames = max(self._user.end, self._agent.end)
        block = max(1, self.sample_rate)  # ~1 s per block bounds memory on long sessions
        buf = np.empty((block, 2), dtype=np.int16)
        with WavWriter(out_path, self.sample_rate, 2) as writer:
            for start in range(0, frames, block):
                n = min(block, frames - start)
                view = buf[:n]
                self._user.read_into(view[:, 0], start)
                self._agent.read_into(view[:, 1], start)
                writer.write(view)
            written = writer.commit()
        self.close()
        self._user.path.unlink(missing_ok=True)
        self._agent.path.unlink(missing_ok=True)
        return written

    def close(self) -> None:
        """Close the raw tracks and keep them, so a later recorder can continue; idempotent."""
        self._user.close()
        self._agent.close()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.session_dir}: recorder is closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
