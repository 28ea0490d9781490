# The Vad's filter front end, included by native/vad.pyx: the band-pass
# design and the one pass over a frame that fills the band, sub-block and
# wideband powers. Apart from the decision logic because it is the whole
# per-sample cost (~0.5 us per 10 ms at 24 kHz) and tuned as such.
# Requires the including module's cimports (libc.math, libc.stdint) and _db.

cdef double[3] _BAND_LO = [150.0, 700.0, 2000.0]
cdef double[3] _BAND_HI = [700.0, 2000.0, 4000.0]


cdef inline double _load(const unsigned char* p, Py_ssize_t i) noexcept nogil:
    return <double><int16_t>(<uint16_t>p[2 * i] | (<uint16_t>p[2 * i + 1] << 8))


cdef inline double _box(const unsigned char* p, Py_ssize_t k, int decim) noexcept nogil:
    """Sum of ``decim`` samples from index ``k``: the decimator's anti-alias filter."""
    cdef double total = _load(p, k)
    cdef int m
    for m in range(1, decim):
        total += _load(p, k + m)
    return total


cdef inline void _filter_pair(double d0, double d1, double b0, double a1, double a2,
                              double c1, double c2, double* s1, double* s2,
                              double* energy) noexcept nogil:
    """Two steps of ``y[n] = b0*(x[n] - x[n-2]) - a1*y[n-1] - a2*y[n-2]`` at once.

    Both outputs are written in terms of the previous pair (``s1`` = y[n-1],
    ``s2`` = y[n-2]), so the loop-carried chain is one multiply-add per two
    samples instead of one per sample: the recursion, not arithmetic, bounds
    the speed of an IIR filter.
    """
    cdef double u0 = b0 * d0
    cdef double u1 = b0 * d1
    cdef double y_a = (u0 - a2 * s2[0]) - a1 * s1[0]
    cdef double y_b = (u1 - a1 * u0 + c2 * s2[0]) + c1 * s1[0]
    s2[0] = y_a
    s1[0] = y_b
    energy[0] += y_a * y_a + y_b * y_b


cdef inline double _energy(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """Sum of squares of ``n`` int16 samples, exact (int64)."""
    cdef int64_t total = 0
    cdef int32_t v
    cdef Py_ssize_t i
    for i in range(n):
        v = <int16_t>(<uint16_t>p[2 * i] | (<uint16_t>p[2 * i + 1] << 8))
        total += v * v
    return <double>total


cdef void _design_bands(Vad vad, int filter_rate) noexcept:
    """Fill the band-pass coefficients for filtering at ``filter_rate`` (after decimation)."""
    cdef double lo, hi, bw, w0sq, a0
    cdef int b
    for b in range(N_BANDS):
        # First-order Butterworth band-pass by the bilinear transform, edges
        # prewarped: H = bw*s / (s^2 + bw*s + w0^2), so b1 = 0 and b2 = -b0.
        lo = tan(pi * _BAND_LO[b] / filter_rate)
        hi = tan(pi * min(_BAND_HI[b], 0.45 * filter_rate) / filter_rate)
        bw = hi - lo
        w0sq = lo * hi
        a0 = 1.0 + bw + w0sq
        # 1/decim undoes the box sum's gain, so levels do not depend on the rate.
        vad._b0[b] = bw / a0 / vad._decim
        vad._a1[b] = 2.0 * (w0sq - 1.0) / a0
        vad._a2[b] = (1.0 - bw + w0sq) / a0
        # Two outputs per step (see _filter_pair).
        vad._c1[b] = vad._a1[b] * vad._a1[b] - vad._a2[b]
        vad._c2[b] = vad._a1[b] * vad._a2[b]


cdef void _analyse_bands(Vad vad, const unsigned char* p) noexcept nogil:
    """Filter one frame; fill band powers and levels, sub-block powers, wideband level."""
    cdef double v0, v1, d0, d1, e0, e1, e2
    cdef double x1 = vad._x1, x2 = vad._x2
    cdef double s10 = vad._y1[0], s11 = vad._y1[1], s12 = vad._y1[2]
    cdef double s20 = vad._y2[0], s21 = vad._y2[1], s22 = vad._y2[2]
    cdef double f0 = 0.0, f1 = 0.0, f2 = 0.0
    cdef double inv_sub = 1.0 / vad._sub
    cdef int decim = vad._decim
    cdef Py_ssize_t j, i, k = 0
    for j in range(vad._subs):
        e0 = e1 = e2 = 0.0
        for i in range(vad._sub_pairs):
            v0 = _box(p, k, decim)
            v1 = _box(p, k + decim, decim)
            k += 2 * decim
            # b1 = 0 and b2 = -b0: the input differences are shared by all bands.
            d0 = v0 - x2
            d1 = v1 - x1
            x2 = v0
            x1 = v1
            _filter_pair(d0, d1, vad._b0[0], vad._a1[0], vad._a2[0], vad._c1[0],
                         vad._c2[0], &s10, &s20, &e0)
            _filter_pair(d0, d1, vad._b0[1], vad._a1[1], vad._a2[1], vad._c1[1],
                         vad._c2[1], &s11, &s21, &e1)
            _filter_pair(d0, d1, vad._b0[2], vad._a1[2], vad._a2[2], vad._c1[2],
                         vad._c2[2], &s12, &s22, &e2)
        vad._sub_power[j] = e0 * inv_sub
        vad._sub_power[MAX_SUBS + j] = e1 * inv_sub
        vad._sub_power[2 * MAX_SUBS + j] = e2 * inv_sub
        f0 += e0
        f1 += e1
        f2 += e2
    vad._x1, vad._x2 = x1, x2
    vad._y1[0], vad._y1[1], vad._y1[2] = s10, s11, s12
    vad._y2[0], vad._y2[1], vad._y2[2] = s20, s21, s22
    # Band energies are summed over decimated samples; per-input-sample
    # power is energy * decim / frame, with b0 already carrying 1/decim.
    cdef double scale = <double>decim / vad._frame
    vad._power[0] = f0 * scale
    vad._power[1] = f1 * scale
    vad._power[2] = f2 * scale
    for i in range(N_BANDS):
        vad._level_db[i] = _db(vad._power[i])
    vad._wide_power = _energy(p, vad._frame) / vad._frame
    vad._wide_db = _db(vad._wide_power)
