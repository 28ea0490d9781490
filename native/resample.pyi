"""Typed interface of ``native/resample.pyx`` (see its docstrings for the exact rules)."""

from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt
from _typeshed import ReadableBuffer, WriteableBuffer

# numpy's stubs give ndarray the buffer protocol only on Python >= 3.12, so
# the arrays the kernels accept are spelled out.
_Bytes: TypeAlias = npt.NDArray[np.int16] | npt.NDArray[np.uint8] | npt.NDArray[np.int8]
_PcmIn: TypeAlias = ReadableBuffer | _Bytes
_PcmOut: TypeAlias = WriteableBuffer | _Bytes
_F32: TypeAlias = npt.NDArray[np.float32]

SUPPORTED_RATES: Final[tuple[int, ...]]
BLOCK_SAMPLES: Final[int]

class Resampler:
    """One mono stream from ``in_rate`` to ``out_rate``; int16 or float32, GIL released."""

    def __init__(self, in_rate: int, out_rate: int) -> None: ...
    @property
    def in_rate(self) -> int:
        """Input sample rate in Hz."""

    @property
    def out_rate(self) -> int:
        """Output sample rate in Hz."""

    @property
    def delay_ms(self) -> float:
        """The filter's delay, input to output, in milliseconds."""

    @property
    def delay_samples(self) -> int:
        """The filter's delay in output samples; ``flush_*`` writes exactly this many."""

    @property
    def held_back(self) -> int:
        """Input samples consumed whose delay-aligned output is not emitted yet."""

    def max_output(self, n_in: int) -> int:
        """Most samples one ``process_*`` call of ``n_in`` inputs writes (``out`` must hold it)."""

    def process_s16(self, pcm: _PcmIn, out: _PcmOut) -> int:
        """Resample int16 PCM into ``out`` (room for ``max_output``); return samples written."""

    def process_f32(self, x: _F32, out: _F32) -> int:
        """Resample float32 samples into float32 ``out``; return samples written."""

    def flush_s16(self, out: _PcmOut) -> int:
        """Emit the held-back tail (``delay_samples``, or 0 if nothing was fed), then reset."""

    def flush_f32(self, out: _F32) -> int:
        """``flush_s16`` for a float32 stream."""

    def reset(self) -> None:
        """Forget the stream without emitting its tail."""

def resample_s16(pcm: _PcmIn, in_rate: int, out_rate: int) -> bytes:
    """Whole-signal int16 resampling, delay trimmed: ``ceil(n * out / in)`` samples."""
