"""Typed interface of ``native/g711.pyx`` (see its docstrings for the exact rules)."""

from typing import TypeAlias

import numpy as np
import numpy.typing as npt
from _typeshed import ReadableBuffer

# numpy's stubs give ndarray the buffer protocol only on Python >= 3.12, so
# the arrays the kernels accept are spelled out.
_Bytes: TypeAlias = npt.NDArray[np.int16] | npt.NDArray[np.uint8] | npt.NDArray[np.int8]
_PcmIn: TypeAlias = ReadableBuffer | _Bytes

def ulaw_encode(pcm: _PcmIn) -> bytes:
    """Little-endian int16 PCM -> G.711 mu-law bytes (ITU-T G.191 exact); odd length: ValueError."""

def alaw_encode(pcm: _PcmIn) -> bytes:
    """Little-endian int16 PCM -> G.711 A-law bytes (ITU-T G.191 exact); odd length: ValueError."""

def ulaw_decode(data: ReadableBuffer | npt.NDArray[np.uint8]) -> bytes:
    """G.711 mu-law bytes -> little-endian int16 PCM, two bytes per code."""

def alaw_decode(data: ReadableBuffer | npt.NDArray[np.uint8]) -> bytes:
    """G.711 A-law bytes -> little-endian int16 PCM, two bytes per code."""
