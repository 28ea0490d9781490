"""Typed interface of ``native/convert.pyx`` (see its docstrings for the exact rules)."""

from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt
from _typeshed import ReadableBuffer, WriteableBuffer

# numpy's stubs give ndarray the buffer protocol only on Python >= 3.12, so
# the arrays the kernels accept are spelled out.
_Bytes: TypeAlias = npt.NDArray[np.int16] | npt.NDArray[np.uint8] | npt.NDArray[np.int8]
_PcmIn: TypeAlias = ReadableBuffer | _Bytes
_PcmOut: TypeAlias = WriteableBuffer | _Bytes

MAX_CHANNELS: Final[int]

def s16_to_f32(src: _PcmIn, out: npt.NDArray[np.float32]) -> int:
    """Convert little-endian int16 PCM to float32 ``x / 32768`` into ``out``; return samples."""

def f32_to_s16(src: npt.NDArray[np.float32], out: _PcmOut) -> int:
    """Write ``rint(clip(x * 32768))`` as int16 PCM into ``out`` (NaN -> 0); return samples."""

def downmix_s16(src: _PcmIn, channels: int, out: _PcmOut) -> int:
    """Average interleaved int16 frames to mono int16 (half-to-even); return frames."""

def gain_s16(buf: _PcmOut, gain: float) -> int:
    """Scale int16 PCM in place by ``gain`` with clipping (half-to-even); return samples."""

def rms_peak_s16(src: _PcmIn) -> tuple[float, int]:
    """Return ``(rms, peak_abs)`` of int16 PCM in linear int16 units."""
