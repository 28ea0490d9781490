"""WAV input for the file transport: a RIFF/WAVE parser that converts to int16 on demand.

The stdlib ``wave`` module only knows integer PCM, and user recordings are often
float32 (DAWs, numpy/soundfile exports) or WAVE_FORMAT_EXTENSIBLE, so the chunk
walk is done here. Samples are never loaded whole: ``read_s16`` reads one block
with ``os.pread`` and converts it with numpy.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import numpy as np
import numpy.typing as npt

MIN_SAMPLE_RATE: Final = 8_000
MAX_SAMPLE_RATE: Final = 192_000

_TAG_PCM: Final = 0x0001
_TAG_FLOAT: Final = 0x0003
_TAG_EXTENSIBLE: Final = 0xFFFE

# Names for the tags people actually meet, so the error says what the file is.
_TAG_NAMES: Final[dict[int, str]] = {
    0x0002: "MS ADPCM",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0050: "MPEG",
    0x0055: "MP3",
    0x00FF: "AAC",
}

# KSDATAFORMAT_SUBTYPE_* GUIDs are the format tag followed by this fixed tail.
_GUID_TAIL: Final = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

_PCM_BITS: Final = frozenset({8, 16, 24, 32})
_FLOAT_BITS: Final = frozenset({32, 64})


class WavFormatError(ValueError):
    """A file that is not a WAV this reader can play; the message names file and problem."""


class WavSource:
    """An open WAV file: format facts plus block reads converted to interleaved int16.

    Create with :meth:`open`; close with :meth:`close` or a ``with`` block.
    """

    __slots__ = (
        "_data_offset",
        "_fd",
        "bits_per_sample",
        "block_align",
        "channels",
        "frames",
        "path",
        "sample_format",
        "sample_rate",
    )

    def __init__(
        self,
        path: Path,
        fd: int,
        *,
        sample_rate: int,
        channels: int,
        bits_per_sample: int,
        sample_format: str,
        data_offset: int,
        frames: int,
    ) -> None:
        self.path = path
        self._fd = fd
        self.sample_rate = sample_rate
        self.channels = channels
        self.bits_per_sample = bits_per_sample
        #: "pcm_u8", "pcm_s16", "pcm_s24", "pcm_s32", "float32" or "float64".
        self.sample_format = sample_format
        self.block_align = channels * bits_per_sample // 8
        self._data_offset = data_offset
        #: Complete frames (per channel) actually present in the file.
        self.frames = frames

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> WavSource:
        """Open and parse ``path``; raises :class:`WavFormatError` or the natural ``OSError``."""
        p = Path(path)
        fd = os.open(p, os.O_RDONLY)
        try:
            return cls._parse(p, fd)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def _parse(cls, path: Path, fd: int) -> WavSource:
        def fail(problem: str) -> WavFormatError:
            return WavFormatError(f"{path}: {problem}")

        file_size = os.fstat(fd).st_size
        head = os.pread(fd, 12, 0)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise fail("not a RIFF/WAVE file")

        fmt: bytes | None = None
        data_offset = -1
        data_size = 0
        pos = 12
        # Walk every chunk header; chunk bodies (the audio included) are skipped, not read.
        while pos + 8 <= file_size:
            chunk_id, size = struct.unpack("<4sI", os.pread(fd, 8, pos))
            body = pos + 8
            if chunk_id == b"fmt ":
                fmt = os.pread(fd, min(size, 64), body)
                if len(fmt) < min(size, 16) or size < 16:
                    raise fail("truncated fmt chunk")
            elif chunk_id == b"data" and data_offset < 0:
                data_offset, data_size = body, size
            if fmt is not None and data_offset >= 0:
                break
            pos = body + size + (size & 1)  # chunks are padded to an even length

        # The walk ends exactly at EOF (or one short: a missing pad byte) unless it was cut.
        walked_to_end = pos in (file_size, file_size + 1)
        if fmt is None:
            raise fail("no fmt chunk" if walked_to_end else "truncated before the fmt chunk")
        if data_offset < 0:
            raise fail("no data chunk" if walked_to_end else "truncated before the data chunk")

        tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
        if tag == _TAG_EXTENSIBLE:
            if len(fmt) < 40:
                raise fail("truncated WAVE_FORMAT_EXTENSIBLE fmt chunk")
            guid = fmt[24:40]
            if guid[2:] != _GUID_TAIL:
                raise fail(
                    "unsupported WAV encoding: unknown extensible subformat; use PCM or float"
                )
            tag = struct.unpack("<H", guid[:2])[0]

        if tag == _TAG_PCM:
            if bits not in _PCM_BITS:
                raise fail(f"unsupported PCM bit depth {bits}; use 8, 16, 24 or 32")
            sample_format = "pcm_u8" if bits == 8 else f"pcm_s{bits}"
        elif tag == _TAG_FLOAT:
            if bits not in _FLOAT_BITS:
                raise fail(f"unsupported float bit depth {bits}; use 32 or 64")
            sample_format = f"float{bits}"
        else:
            name = _TAG_NAMES.get(tag, "unknown")
            raise fail(f"unsupported WAV encoding: {name} (format tag {tag}); use PCM or float")

        if channels not in (1, 2):
            raise fail(f"{channels} channels; only mono or stereo")
        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise fail(f"sample rate {rate} Hz out of range {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}")
        if block_align != channels * bits // 8:
            raise fail(f"block align {block_align} does not match {channels} x {bits}-bit")

        # A recorder killed mid-write leaves a header that declares more (or 0xFFFFFFFF);
        # play what is there.
        present = max(0, min(data_size, file_size - data_offset))
        frames = present // block_align
        if data_size == 0:
            raise fail("empty audio")
        if frames == 0:
            raise fail(f"truncated: data chunk declares {data_size} bytes, {present} present")
        return cls(
            path,
            fd,
            sample_rate=rate,
            channels=channels,
            bits_per_sample=bits,
            sample_format=sample_format,
            data_offset=data_offset,
            frames=frames,
        )

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return self.frames / self.sample_rate

    def read_s16(self, start_frame: int, n_frames: int) -> bytes:
        """Return frames ``[start_frame, start_frame + n_frames)`` as interleaved int16 LE bytes.

        Short (possibly empty) at the end of the file. Floats are scaled by 32767
        and clipped; 24/32-bit PCM keep their top 16 bits; 8-bit loses its offset.
        """
        if start_frame < 0 or n_frames < 0:
            raise ValueError(f"start_frame and n_frames must be >= 0: {start_frame}, {n_frames}")
        if self._fd < 0:
            raise ValueError(f"{self.path}: read from a closed WavSource")
        n = max(0, min(n_frames, self.frames - start_frame))
        if n == 0:
            return b""
        offset = self._data_offset + start_frame * self.block_align
        raw = os.pread(self._fd, n * self.block_align, offset)
        # pread on a regular file only comes up short if the file shrank under us.
        raw = raw[: len(raw) - len(raw) % self.block_align]
        return _to_s16(raw, self.sample_format).tobytes()

    def close(self) -> None:
        """Release the file descriptor; idempotent."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"WavSource({str(self.path)!r}, {self.sample_rate} Hz, {self.channels} ch, "
            f"{self.sample_format}, {self.frames} frames)"
        )


def _to_s16(raw: bytes, sample_format: str) -> npt.NDArray[np.int16]:
    """Convert little-endian samples of ``sample_format`` to int16 (vectorised)."""
    if sample_format == "pcm_s16":
        return np.frombuffer(raw, dtype="<i2").astype(np.int16, copy=False)
    if sample_format == "pcm_u8":
        u8 = np.frombuffer(raw, dtype=np.uint8)
        return ((u8.astype(np.int16) - 128) << 8).astype(np.int16)
    if sample_format == "pcm_s24":
        # The top two bytes of each 3-byte sample are its value >> 8.
        triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        return np.ascontiguousarray(triples[:, 1:]).view("<i2").reshape(-1).astype(np.int16)
    if sample_format == "pcm_s32":
        return (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    if sample_format in ("float32", "float64"):
        dtype = "<f4" if sample_format == "float32" else "<f8"
        x = np.frombuffer(raw, dtype=dtype).astype(np.float64)
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        return np.clip(np.rint(x * 32767.0), -32768.0, 32767.0).astype(np.int16)
    raise AssertionError(f"unhandled sample format {sample_format}")
