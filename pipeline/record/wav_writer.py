"""WAV output for the file transport: int16 PCM, written atomically.

Output files appear complete or not at all: data goes to ``<path>.tmp``, the
header is patched with the final sizes, the file is fsynced and renamed over
``path``. A reader never sees a half-written WAV, even if we are killed.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import numpy as np
import numpy.typing as npt

_HEADER_BYTES: Final = 44
# RIFF sizes are 32-bit; the RIFF chunk size counts everything after its 8-byte header.
_MAX_DATA_BYTES: Final = 0xFFFFFFFF - (_HEADER_BYTES - 8)


def wav_header(frames: int, channels: int, sample_rate: int) -> bytes:
    """Canonical 44-byte header of an int16 PCM WAV with ``frames`` frames."""
    block_align = channels * 2
    data_bytes = frames * block_align
    if data_bytes > _MAX_DATA_BYTES:
        raise ValueError(f"{frames} frames x {channels} ch exceed the 4 GiB WAV limit")
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        _HEADER_BYTES - 8 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,  # WAVE_FORMAT_PCM
        channels,
        sample_rate,
        sample_rate * block_align,
        block_align,
        16,
        b"data",
        data_bytes,
    )


def _as_frames(pcm_s16: npt.NDArray[np.int16], channels: int | None) -> npt.NDArray[np.int16]:
    """Validate ``pcm_s16`` and view it as ``(frames, channels)``."""
    if pcm_s16.dtype != np.int16:
        raise ValueError(f"expected int16 samples, got {pcm_s16.dtype}")
    frames = pcm_s16.reshape(-1, 1) if pcm_s16.ndim == 1 else pcm_s16
    if frames.ndim != 2:
        raise ValueError(f"expected a 1-D or (frames, channels) array, got shape {pcm_s16.shape}")
    if channels is not None and frames.shape[1] != channels:
        raise ValueError(f"expected {channels} channels, got {frames.shape[1]}")
    return frames


class WavWriter:
    """Streaming int16 WAV writer; :meth:`commit` makes the file appear at ``path``.

    Used as a context manager, leaving the block without ``commit`` (an error)
    discards the temporary file and leaves ``path`` untouched.
    """

    def __init__(self, path: str | os.PathLike[str], sample_rate: int, channels: int) -> None:
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        if sample_rate < 1:
            raise ValueError(f"sample_rate must be >= 1, got {sample_rate}")
        self.path = Path(path)
        self.tmp_path = self.path.with_name(self.path.name + ".tmp")
        self.sample_rate = sample_rate
        self.channels = channels
        self.frames = 0
        self._committed = False
        self._file = open(self.tmp_path, "wb")  # noqa: SIM115 - lifetime spans method calls
        self._file.write(wav_header(0, channels, sample_rate))

    def write(self, pcm_s16: npt.NDArray[np.int16]) -> None:
        """Append frames: 1-D (mono) or ``(frames, channels)`` int16."""
        if self._file.closed:
            raise ValueError(f"{self.path}: writer already committed or aborted")
        frames = _as_frames(pcm_s16, self.channels)
        if (self.frames + len(frames)) * self.channels * 2 > _MAX_DATA_BYTES:
            raise ValueError(f"{self.path}: data would exceed the 4 GiB WAV limit")
        self._file.write(np.ascontiguousarray(frames, dtype="<i2").tobytes())
        self.frames += len(frames)

    def commit(self) -> int:
        """Patch the header, fsync, rename over ``path``; returns the frame count."""
        if self._file.closed:
            raise ValueError(f"{self.path}: writer already committed or aborted")
        f = self._file
        f.seek(0)
        f.write(wav_header(self.frames, self.channels, self.sample_rate))
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(self.tmp_path, self.path)
        self._committed = True
        _fsync_dir(self.path.parent)
        return self.frames

    def abort(self) -> None:
        """Discard the temporary file; ``path`` is left as it was."""
        if not self._file.closed:
            self._file.close()
        if not self._committed:
            self.tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


def write_wav(
    path: str | os.PathLike[str], pcm_s16: npt.NDArray[np.int16], sample_rate: int
) -> int:
    """Write int16 ``pcm_s16`` (1-D mono or ``(frames, channels)``) atomically; returns frames."""
    frames = _as_frames(pcm_s16, None)
    with WavWriter(path, sample_rate, frames.shape[1]) as writer:
        writer.write(frames)
        return writer.commit()


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; some filesystems refuse fsync on a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
