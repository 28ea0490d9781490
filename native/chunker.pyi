"""Typed interface of ``native/chunker.pyx`` (see its docstrings for the exact rules)."""

from typing import TypeAlias

import numpy as np
import numpy.typing as npt
from _typeshed import ReadableBuffer, WriteableBuffer

# numpy's stubs give ndarray the buffer protocol only on Python >= 3.12, so
# the arrays the ring accepts are spelled out.
_Bytes: TypeAlias = npt.NDArray[np.int16] | npt.NDArray[np.uint8] | npt.NDArray[np.int8]
_PcmIn: TypeAlias = ReadableBuffer | _Bytes
_PcmOut: TypeAlias = WriteableBuffer | _Bytes

class Chunker:
    """An int16 ring that accepts pushes of any length and releases fixed-size chunks."""

    def __init__(self, chunk_samples: int, capacity_samples: int) -> None: ...
    def push(self, pcm: _PcmIn) -> int:
        """Append int16 PCM; return samples dropped (the new excess) because the ring was full."""

    def pop(self, out: _PcmOut) -> bool:
        """Move one chunk into ``out``; False if fewer than ``chunk_samples`` are buffered."""

    def pop_partial(self, out: _PcmOut) -> int:
        """Move up to one chunk into ``out``, zero-pad to a chunk; return real samples."""

    def reset(self) -> None:
        """Forget buffered audio and zero ``dropped_samples``."""

    @property
    def available(self) -> int:
        """Samples buffered now."""

    @property
    def chunk_samples(self) -> int:
        """Samples per chunk."""

    @property
    def capacity_samples(self) -> int:
        """Most samples the ring holds."""

    @property
    def dropped_samples(self) -> int:
        """Samples refused by ``push`` since construction or ``reset()``."""
