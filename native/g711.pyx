"""G.711 mu-law and A-law: the telephone network's 8-bit companded PCM (SIP/RTP, Twilio).

Bit-exact with the ITU-T's own reference code (G.191 Software Tools Library,
``g711.c``): a 16-bit two's-complement sample is reduced to its 14 (mu-law) or
13 (A-law) most significant bits, and a negative sample's magnitude is its
one's complement (``~x``), so the quantizer is symmetric about -1/2 LSB and
``x`` and ``-x - 1`` differ only in the sign bit. (Sun's ``g711.c``, and so
Python's old ``audioop``, negates instead for mu-law: its negative codes differ
from the ITU's by one step at some decision boundaries.)

Decoding is one lookup in a 256-entry table; encoding is one lookup of the
magnitude in an 8192 (mu-law) or 4096 (A-law) entry table of code magnitudes,
built once at import by the segment rule. Loops run without the GIL.
"""

import sys

from cpython.buffer cimport (
    PyBUF_C_CONTIGUOUS,
    PyBUF_FORMAT,
    PyBUF_SIMPLE,
    PyBUF_WRITABLE,
    PyBuffer_Release,
    PyObject_GetBuffer,
)
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport int16_t, int32_t, uint8_t, uint16_t
from libc.string cimport strcmp

include "_pcm_buffer.pxi"
include "_pcm_samples.pxi"

# Code magnitude (0..127, before the sign bit and the line inversion) of each
# reduced magnitude: mu-law indexes by |x| >> 2 (0..8191), A-law by |x| >> 4
# (0..2047; A-law's first two segments share one step, so 13-bit >> 1).
cdef uint8_t _ULAW_LEVEL[8192]
cdef uint8_t _ALAW_LEVEL[2048]
cdef int16_t _ULAW_VALUE[256]
cdef int16_t _ALAW_VALUE[256]


cdef void _build_tables() noexcept:
    cdef int m, biased, seg, code, mant, step, value, ix, exp
    for m in range(8192):
        # mu-law: bias by 33 so segment s spans [32 << s, 64 << s) of the biased value.
        biased = m + 33
        if biased > 0x1FFF:
            biased = 0x1FFF
        seg = 0
        while (biased >> (seg + 6)) != 0:
            seg += 1
        _ULAW_LEVEL[m] = <uint8_t>((seg << 4) | ((biased >> (seg + 1)) & 0x0F))
    for m in range(2048):
        ix = m
        exp = 0
        if ix > 15:
            exp = 1
            while ix > 31:
                ix >>= 1
                exp += 1
            ix -= 16
        _ALAW_LEVEL[m] = <uint8_t>((exp << 4) | ix)
    for code in range(256):
        # mu-law codes are sent inverted: 0xFF is +0, 0x7F is -0.
        seg = ((~code) >> 4) & 0x07
        mant = (~code) & 0x0F
        step = 8 << seg
        value = (0x80 << seg) + step * mant + step // 2 - 132
        _ULAW_VALUE[code] = <int16_t>(value if code & 0x80 else -value)
        # A-law codes have their even bits inverted (0x55).
        ix = (code ^ 0x55) & 0x7F
        exp = ix >> 4
        mant = ix & 0x0F
        if exp > 0:
            mant += 16
        value = (mant << 4) + 8
        if exp > 1:
            value <<= exp - 1
        _ALAW_VALUE[code] = <int16_t>(value if code & 0x80 else -value)


_build_tables()


cdef inline uint8_t _ulaw(int16_t x) noexcept nogil:
    if x < 0:
        return <uint8_t>(0x7F - _ULAW_LEVEL[(~x) >> 2])
    return <uint8_t>(0xFF - _ULAW_LEVEL[x >> 2])


cdef inline uint8_t _alaw(int16_t x) noexcept nogil:
    if x < 0:
        return <uint8_t>(_ALAW_LEVEL[(~x) >> 4] ^ 0x55)
    return <uint8_t>((_ALAW_LEVEL[x >> 4] | 0x80) ^ 0x55)


cdef bytes _encode(object pcm, bint alaw):
    cdef Py_buffer view
    cdef Py_ssize_t n, i
    cdef const unsigned char* p
    cdef unsigned char* o
    _get_pcm(pcm, &view, "pcm", False)
    try:
        if view.len & 1:
            raise ValueError(
                f"pcm has {view.len} bytes; int16 PCM needs an even byte count"
            )
        n = view.len >> 1
        out = PyBytes_FromStringAndSize(NULL, n)
        o = <unsigned char*>PyBytes_AS_STRING(out)
        p = <const unsigned char*>view.buf
        with nogil:
            if alaw:
                for i in range(n):
                    o[i] = _alaw(_load_s16(p, i))
            else:
                for i in range(n):
                    o[i] = _ulaw(_load_s16(p, i))
    finally:
        PyBuffer_Release(&view)
    return out


cdef bytes _decode(object data, const int16_t* table):
    cdef Py_buffer view
    cdef Py_ssize_t n, i
    cdef const unsigned char* p
    cdef unsigned char* o
    try:
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    except BufferError as exc:
        raise TypeError(f"data must be a C-contiguous bytes-like buffer ({exc})") from None
    try:
        n = view.len
        out = PyBytes_FromStringAndSize(NULL, 2 * n)
        o = <unsigned char*>PyBytes_AS_STRING(out)
        p = <const unsigned char*>view.buf
        with nogil:
            for i in range(n):
                _store_s16(o, i, table[p[i]])
    finally:
        PyBuffer_Release(&view)
    return out


def ulaw_encode(pcm):
    """Encode little-endian int16 PCM as G.711 mu-law: one byte per sample.

    ``pcm`` is bytes-like or an int16 numpy array; an odd byte count raises
    ``ValueError``. Magnitudes beyond mu-law's range (|x| > 32635) clip to the
    outermost code.
    """
    return _encode(pcm, False)


def alaw_encode(pcm):
    """Encode little-endian int16 PCM as G.711 A-law: one byte per sample."""
    return _encode(pcm, True)


def ulaw_decode(data):
    """Decode G.711 mu-law bytes to little-endian int16 PCM (two bytes per code)."""
    return _decode(data, _ULAW_VALUE)


def alaw_decode(data):
    """Decode G.711 A-law bytes to little-endian int16 PCM (two bytes per code)."""
    return _decode(data, _ALAW_VALUE)
