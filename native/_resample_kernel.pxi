# The resampler's C inner loops, included by native/resample.pyx: its output
# loop (one vectorised dot product per output sample, cloned for AVX2+FMA) and
# the int16 <-> float32 block conversions. Verbatim C because gcc needs explicit
# vector lanes and a target_clones attribute, neither of which Cython can spell.
# Requires int64_t and Py_ssize_t in the including module.


cdef extern from *:
    """
    /* The inner loop of everything: one dot product per output sample.
       Without -ffast-math gcc will not reorder a float sum, so the lanes are
       explicit: four 8-float vector accumulators (enough independent chains
       to hide the add latency), then 8-float steps, summed in a fixed order,
       so results do not depend on how a stream is cut into calls. On x86-64
       Linux gcc also builds an AVX2+FMA clone of the whole output loop, picked
       at load time (ifunc); the clones may differ in the last bit (FMA), never
       within one process. Scalar code with 8 accumulators measured ~2x slower. */
    typedef float vp_v8f __attribute__((vector_size(32)));
    typedef float vp_v4f __attribute__((vector_size(16)));

    static inline __attribute__((always_inline)) float
    vp_dot(const float *a, const float *b, Py_ssize_t n)
    {
        vp_v8f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, va, vb;
        Py_ssize_t i = 0;
        for (; i + 32 <= n; i += 32) {
            __builtin_memcpy(&va, a + i, 32); __builtin_memcpy(&vb, b + i, 32); s0 += va * vb;
            __builtin_memcpy(&va, a + i + 8, 32); __builtin_memcpy(&vb, b + i + 8, 32); s1 += va * vb;
            __builtin_memcpy(&va, a + i + 16, 32); __builtin_memcpy(&vb, b + i + 16, 32); s2 += va * vb;
            __builtin_memcpy(&va, a + i + 24, 32); __builtin_memcpy(&vb, b + i + 24, 32); s3 += va * vb;
        }
        for (; i < n; i += 8) {
            __builtin_memcpy(&va, a + i, 32); __builtin_memcpy(&vb, b + i, 32); s0 += va * vb;
        }
        s0 = (s0 + s1) + (s2 + s3);
        /* Halve with shuffles: element access would go through the stack. */
        vp_v4f h = __builtin_shufflevector(s0, s0, 0, 1, 2, 3)
                   + __builtin_shufflevector(s0, s0, 4, 5, 6, 7);
        h += __builtin_shufflevector(h, h, 2, 3, 0, 1);
        return h[0] + h[1];
    }

    /* Outputs whose newest input is at most stream index `last`, up to
       `limit`; `buf` holds stream indices buf_start.. . Phase stepping avoids
       a division per output (~40 cycles). */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    __attribute__((target_clones("arch=x86-64-v3", "default")))
    #endif
    static Py_ssize_t vp_emit(const float *table, Py_ssize_t taps, const float *buf,
                              int64_t buf_start, int64_t last, int64_t *next_in,
                              int64_t *phase, int64_t up, int64_t input_step,
                              int64_t phase_step, float *out, Py_ssize_t limit)
    {
        Py_ssize_t n = 0;
        int64_t ni = *next_in, ph = *phase;
        while (n < limit && ni <= last) {
            float y = vp_dot(table + ph * taps, buf + (ni - (taps - 1) - buf_start), taps);
            __builtin_memcpy(out + n, &y, 4);  /* out may be a caller's unaligned buffer */
            n++;
            ph += phase_step;
            ni += input_step;
            if (ph >= up) {
                ph -= up;
                ni++;
            }
        }
        *next_in = ni;
        *phase = ph;
        return n;
    }
    """
    Py_ssize_t vp_emit(const float* table, Py_ssize_t taps, const float* buf,
                       int64_t buf_start, int64_t last, int64_t* next_in, int64_t* phase,
                       int64_t up, int64_t input_step, int64_t phase_step,
                       float* out, Py_ssize_t limit) nogil


cdef extern from *:
    """
    /* int16 <-> float32 in loops gcc vectorises: the wire is little-endian, so
       a plain 16-bit copy on little-endian hosts, byte assembly elsewhere (and
       no alignment assumed: a bytes slice may start at an odd address). */
    static void vp_s16_to_floats(const unsigned char *p, float *dst, Py_ssize_t n)
    {
        for (Py_ssize_t i = 0; i < n; i++) {
            int16_t s;
    #if PY_LITTLE_ENDIAN
            __builtin_memcpy(&s, p + 2 * i, 2);
    #else
            s = (int16_t)(uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
    #endif
            dst[i] = (float)s;
        }
    }

    /* Clip, then round half to even: adding and subtracting 1.5 * 2**23 rounds
       a float below 2**22 to an integer like rintf, which is a libm call on
       baseline x86-64 (no SSE4.1). Inputs are int16 here, so never NaN. */
    static void vp_floats_to_s16(const float *y, unsigned char *p, Py_ssize_t n)
    {
        for (Py_ssize_t i = 0; i < n; i++) {
            float v = y[i];
            v = v > 32767.0f ? 32767.0f : v;
            v = v < -32768.0f ? -32768.0f : v;
            int16_t s = (int16_t)((v + 12582912.0f) - 12582912.0f);
    #if PY_LITTLE_ENDIAN
            __builtin_memcpy(p + 2 * i, &s, 2);
    #else
            p[2 * i] = (unsigned char)((uint16_t)s & 0xFF);
            p[2 * i + 1] = (unsigned char)((uint16_t)s >> 8);
    #endif
        }
    }
    """
    void vp_s16_to_floats(const unsigned char* p, float* dst, Py_ssize_t n) nogil
    void vp_floats_to_s16(const float* y, unsigned char* p, Py_ssize_t n) nogil
