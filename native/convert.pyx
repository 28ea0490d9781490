"""Sample-format kernels: int16 <-> float32, downmix to mono, gain, RMS/peak.

PCM is little-endian int16 (the wire and transport format). Every kernel takes
its output buffer from the caller and allocates nothing per call; every sample
loop runs without the GIL. Rounding is round-half-to-even throughout (the IEEE
default, ``np.rint``), so a plain-numpy reference can match bit for bit.
"""

import sys

from cpython.buffer cimport (
    PyBUF_C_CONTIGUOUS,
    PyBUF_FORMAT,
    PyBUF_WRITABLE,
    PyBuffer_Release,
    PyObject_GetBuffer,
)
from libc.math cimport isfinite, isnan, rint, rintf, sqrt
from libc.stdint cimport int16_t, int32_t, int64_t, uint16_t
from libc.string cimport memmove, strcmp

MAX_CHANNELS = 8

# 1/32768 is a power of two, so int16 -> float32 is exact and reversible.
cdef float _S16_TO_F32 = 1.0 / 32768.0
cdef float _F32_TO_S16 = 32768.0

include "_pcm_buffer.pxi"


cdef inline Py_ssize_t _sample_count(Py_ssize_t nbytes, str name) except -1:
    if nbytes & 1:
        raise ValueError(f"{name} has {nbytes} bytes; int16 PCM needs an even byte count")
    return nbytes >> 1


# Byte-wise load/store keeps the kernels correct for any alignment (a bytes
# slice may start at an odd address) and any host byte order; gcc folds each
# into a single 16-bit move on little-endian targets.
include "_pcm_samples.pxi"


def s16_to_f32(src, float[::1] out not None):
    """Convert int16 PCM to float32 in ``[-1, 1)``: ``out[i] = src[i] / 32768``.

    ``src`` is little-endian int16 PCM: bytes, bytearray, memoryview or an int16
    numpy array. ``out`` is a 1-D C-contiguous float32 array with room for at
    least ``len(src) // 2`` samples; only that prefix is written. Returns the
    number of samples written. The conversion is exact.
    """
    cdef Py_buffer pcm
    cdef Py_ssize_t n, i
    cdef const unsigned char* p
    cdef float* o
    _get_pcm(src, &pcm, "src", False)
    try:
        n = _sample_count(pcm.len, "src")
        if out.shape[0] < n:
            raise ValueError(f"out holds {out.shape[0]} samples; src has {n}")
        if n == 0:
            return 0
        p = <const unsigned char*>pcm.buf
        o = &out[0]
        with nogil:
            for i in range(n):
                o[i] = <float>_load_s16(p, i) * _S16_TO_F32
    finally:
        PyBuffer_Release(&pcm)
    return n


def f32_to_s16(const float[::1] src not None, out):
    """Convert float32 samples to little-endian int16 PCM written into ``out``.

    ``src`` is a 1-D C-contiguous float32 array (read-only is fine). ``out`` is
    a writable buffer of at least ``2 * len(src)`` bytes: a bytearray, a
    writable memoryview, or an int16 numpy array. Each sample becomes
    ``rint(clip(x * 32768, -32768, 32767))``: scaled by 32768 (exact), clipped
    first, then rounded to nearest with ties to even (0.5 -> 0, 1.5 -> 2,
    -2.5 -> -2); NaN becomes 0 and +-inf clip. Returns the number of samples
    written.
    """
    cdef Py_buffer pcm
    cdef Py_ssize_t n = src.shape[0]
    cdef Py_ssize_t i
    cdef const float* s
    cdef unsigned char* o
    cdef float v
    _get_pcm(out, &pcm, "out", True)
    try:
        if pcm.len < 2 * n:
            raise ValueError(f"out holds {pcm.len // 2} int16 samples; src has {n}")
        if n == 0:
            return 0
        s = &src[0]
        o = <unsigned char*>pcm.buf
        with nogil:
            for i in range(n):
                v = s[i] * _F32_TO_S16
                # Clip before rounding: the bounds are integers, so the order
                # does not change the result, and the cast can never overflow.
                if isnan(v):
                    v = 0.0
                elif v > 32767.0:
                    v = 32767.0
                elif v < -32768.0:
                    v = -32768.0
                _store_s16(o, i, <int16_t>rintf(v))
    finally:
        PyBuffer_Release(&pcm)
    return n


def downmix_s16(src, int channels, out):
    """Average interleaved int16 PCM of ``channels`` channels down to mono int16.

    ``src`` holds whole frames (``len(src)`` a multiple of ``2 * channels``
    bytes); ``channels`` is 1..8. ``out`` is a writable buffer (bytearray or int16
    array) of at least ``2 * frames`` bytes; it may be ``src`` itself (each frame
    is read before its output sample is written). Each output sample is the
    channel mean rounded half-to-even. Returns the number of frames written.
    """
    if not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"channels must be 1..{MAX_CHANNELS}, got {channels}")
    cdef Py_buffer pcm, mono
    cdef Py_ssize_t frames
    cdef const unsigned char* p
    cdef unsigned char* o
    _get_pcm(src, &pcm, "src", False)
    try:
        if pcm.len % (2 * channels):
            raise ValueError(
                f"src has {pcm.len} bytes, not a whole number of {channels}-channel int16 frames"
            )
        frames = pcm.len // (2 * channels)
        _get_pcm(out, &mono, "out", True)
        try:
            if mono.len < 2 * frames:
                raise ValueError(f"out holds {mono.len // 2} int16 samples; src has {frames} frames")
            if frames == 0:
                return 0
            p = <const unsigned char*>pcm.buf
            o = <unsigned char*>mono.buf
            with nogil:
                if channels == 1:
                    # memmove, not memcpy: out may alias src.
                    memmove(o, p, 2 * frames)
                else:
                    _downmix_frames(p, channels, frames, o)
        finally:
            PyBuffer_Release(&mono)
    finally:
        PyBuffer_Release(&pcm)
    return frames


def gain_s16(buf, double gain):
    """Scale int16 PCM in place: ``rint(clip(x * gain, -32768, 32767))``.

    ``buf`` is a writable buffer of int16 PCM (bytearray, writable memoryview or
    int16 array). ``gain`` is a finite linear factor (negative inverts phase);
    the product is computed in double precision and rounded half-to-even after
    clipping. Returns the number of samples scaled.
    """
    if not isfinite(gain):
        raise ValueError(f"gain must be finite, got {gain!r}")
    cdef Py_buffer pcm
    cdef Py_ssize_t n, i
    cdef unsigned char* o
    cdef double v
    _get_pcm(buf, &pcm, "buf", True)
    try:
        n = _sample_count(pcm.len, "buf")
        o = <unsigned char*>pcm.buf
        with nogil:
            for i in range(n):
                v = _load_s16(o, i) * gain
                if v > 32767.0:
                    v = 32767.0
                elif v < -32768.0:
                    v = -32768.0
                _store_s16(o, i, <int16_t>rint(v))
    finally:
        PyBuffer_Release(&pcm)
    return n


def rms_peak_s16(src):
    """Return ``(rms, peak)`` of int16 PCM, both in linear int16 units.

    ``rms`` is ``sqrt(sum(x**2) / n)`` with the sum exact in int64; ``peak`` is
    ``max(abs(x))`` as an int (32768 for a -32768 sample). Empty input gives
    ``(0.0, 0)``.
    """
    cdef Py_buffer pcm
    cdef Py_ssize_t n, i
    cdef const unsigned char* p
    # Each square is < 2**30, so int64 cannot overflow below 2**33 samples
    # (16 GiB of PCM), far beyond any buffer this sees.
    cdef int64_t energy = 0
    cdef int32_t v, peak = 0
    _get_pcm(src, &pcm, "src", False)
    try:
        n = _sample_count(pcm.len, "src")
        p = <const unsigned char*>pcm.buf
        with nogil:
            for i in range(n):
                v = _load_s16(p, i)
                energy += <int64_t>(v * v)
                if v < 0:
                    v = -v
                if v > peak:
                    peak = v
    finally:
        PyBuffer_Release(&pcm)
    if n == 0:
        return 0.0, 0
    return sqrt(<double>energy / <double>n), peak
