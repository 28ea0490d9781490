# Shared by the native kernels through Cython's `include`: little-endian int16
# sample access and the downmix rule, so every kernel reads and averages samples
# the same way. Each including module must cimport int16_t, int32_t and uint16_t.


cdef inline int16_t _load_s16(const unsigned char* p, Py_ssize_t i) noexcept nogil:
    return <int16_t>(<uint16_t>p[2 * i] | (<uint16_t>p[2 * i + 1] << 8))


cdef inline void _store_s16(unsigned char* p, Py_ssize_t i, int16_t v) noexcept nogil:
    cdef uint16_t u = <uint16_t>v
    p[2 * i] = <unsigned char>(u & 0xFF)
    p[2 * i + 1] = <unsigned char>(u >> 8)


cdef inline int16_t _mean_round_even(int32_t total, int32_t n) noexcept nogil:
    """``total / n`` rounded half-to-even, for ``total`` a sum of ``n`` int16 values."""
    # Shift to non-negative so C's truncating division is floor division; the
    # shift is even (32768 * n), so the parity test on q is unaffected.
    cdef int32_t shifted = total + 32768 * n
    cdef int32_t q = shifted // n
    cdef int32_t twice_rem = 2 * (shifted - q * n)
    if twice_rem > n or (twice_rem == n and (q & 1)):
        q += 1
    return <int16_t>(q - 32768)


cdef inline void _downmix_frames(const unsigned char* p, int channels, Py_ssize_t frames,
                                 unsigned char* o) noexcept nogil:
    """Channel means (rounded half-to-even) of ``frames`` interleaved frames of
    ``channels`` >= 2 into mono ``o``; ``o`` may be ``p`` (each frame is read first)."""
    cdef Py_ssize_t f
    cdef int c
    cdef int32_t total
    if channels == 2:
        # Stereo is the common case; a constant divisor becomes shifts.
        for f in range(frames):
            total = <int32_t>_load_s16(p, 2 * f) + _load_s16(p, 2 * f + 1)
            _store_s16(o, f, _mean_round_even(total, 2))
        return
    for f in range(frames):
        total = 0
        for c in range(channels):
            total += _load_s16(p, f * channels + c)
        _store_s16(o, f, _mean_round_even(total, channels))
