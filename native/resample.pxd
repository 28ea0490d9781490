# C-level declarations of native/resample.pyx's Resampler, for kernels that
# drive it from their own nogil section (native/inbound_chain.pyx). Python
# callers use the module's def API (native/resample.pyi).

from libc.stdint cimport int64_t


cdef class Resampler:
    cdef object _filter            # keeps the shared tap table alive
    cdef const float* _table       # up rows of _taps taps, oldest input first
    cdef int _in_rate, _out_rate
    cdef int64_t _up, _down
    cdef int64_t _input_step, _phase_step  # down // up, down % up
    cdef Py_ssize_t _taps, _delay
    cdef bint _same_rate
    cdef float* _buf               # _taps - 1 samples of history, then one block
    cdef float* _scratch           # one block's outputs on their way to int16
    cdef Py_ssize_t _buf_len       # valid samples in _buf
    cdef int64_t _buf_start        # stream index of _buf[0] (negative: leading zeros)
    cdef int64_t _next_in          # stream index of the newest input of the next output
    cdef int64_t _phase            # filter phase of the next output
    cdef int64_t _consumed         # inputs since construction or reset
    cdef int64_t _emitted          # outputs since construction or reset
    cdef bint _busy                # a call is running without the GIL

    cdef int _enter(self) except -1
    cdef void _reset(self) noexcept nogil
    cdef Py_ssize_t _emit(self, float* out, Py_ssize_t limit) noexcept nogil
    cdef Py_ssize_t _run(self, const unsigned char* src, bint from_s16, Py_ssize_t n,
                         unsigned char* out, bint to_s16, Py_ssize_t limit) noexcept nogil
    # One process_* call's work: ``out`` has room for max_output(n) samples and
    # does not overlap ``src`` (unless the rates are equal); returns samples written.
    cdef Py_ssize_t _feed(self, const unsigned char* src, Py_ssize_t n,
                          unsigned char* out, bint s16) noexcept nogil
    cdef Py_ssize_t _process(self, object src, object out, bint s16) except -1
    cdef Py_ssize_t _flush(self, object out, bint s16) except -1
