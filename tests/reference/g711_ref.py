"""Plain-numpy reference for ``native.g711``; used only by tests.

Written from ITU-T G.711's tables, not from the kernel: each law is its list of
segments (start of the segment and its quantization step, in the law's own
linear units), from which every decision value and every reconstruction value
(the middle of its interval) follows; encoding is a ``searchsorted`` over the
decision values. Two's-complement input follows ITU-T G.191's convention: the
law's units are the top 14 (mu-law) or 13 (A-law) bits, and a negative
sample's magnitude is ``-x - 1``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

S16 = np.dtype("<i2")

# G.711 Table 2a (mu-law), 14-bit units: after the first interval [0, 1) of
# code 0, segment s has 16 steps of 2**(s+1) (code 0's step of 2 is half used).
_ULAW_SEGMENTS = [
    (-1, 2),
    (31, 4),
    (95, 8),
    (223, 16),
    (479, 32),
    (991, 64),
    (2015, 128),
    (4063, 256),
]
# G.711 Table 1a (A-law), 13-bit units: segments 0 and 1 both step by 2.
_ALAW_SEGMENTS = [(0, 2), (32, 2), (64, 4), (128, 8), (256, 16), (512, 32), (1024, 64), (2048, 128)]


def _levels(segments: list[tuple[int, int]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(lower decision value, reconstruction value) of each of the 128 magnitudes."""
    lows = np.concatenate([start + step * np.arange(16) for start, step in segments])
    steps = np.repeat([step for _, step in segments], 16)
    middles = lows + steps // 2
    return np.maximum(lows, 0), middles


_ULAW_LOW, _ULAW_MID = _levels(_ULAW_SEGMENTS)
_ALAW_LOW, _ALAW_MID = _levels(_ALAW_SEGMENTS)
_ULAW_MID[0] = 0  # mu-law's code 0 is the interval straddling zero: it decodes to 0


def _split(pcm: bytes, shift: int) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    x = np.frombuffer(pcm, dtype=S16).astype(np.int64)
    negative = x < 0
    return negative, np.where(negative, -x - 1, x) >> shift


def _level(magnitude: npt.NDArray[np.int64], lows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return np.searchsorted(lows, magnitude, side="right") - 1


def ulaw_encode(pcm: bytes) -> bytes:
    """int16 PCM -> mu-law: sign bit 1 for >= 0, magnitude bits inverted (0xFF is +0)."""
    negative, mag = _split(pcm, 2)
    level = _level(mag, _ULAW_LOW)
    code = np.where(negative, 0x7F - level, 0xFF - level)
    return bytes(code.astype(np.uint8).tobytes())


def alaw_encode(pcm: bytes) -> bytes:
    """int16 PCM -> A-law: sign bit 1 for >= 0, even bits inverted (XOR 0x55)."""
    negative, mag = _split(pcm, 3)
    level = _level(mag, _ALAW_LOW)
    code = np.where(negative, level, level | 0x80) ^ 0x55
    return bytes(code.astype(np.uint8).tobytes())


def ulaw_decode(data: bytes) -> bytes:
    """mu-law -> int16 PCM: the interval's middle in 14-bit units, times 4."""
    code = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    value = _ULAW_MID[0x7F - (code & 0x7F)] * 4
    return bytes(np.where(code & 0x80, value, -value).astype(S16).tobytes())


def alaw_decode(data: bytes) -> bytes:
    """A-law -> int16 PCM: the interval's middle in 13-bit units, times 8."""
    code = np.frombuffer(data, dtype=np.uint8).astype(np.int64) ^ 0x55
    value = _ALAW_MID[code & 0x7F] * 8
    return bytes(np.where(code & 0x80, value, -value).astype(S16).tobytes())
