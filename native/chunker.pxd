# C-level declarations of native/chunker.pyx's Chunker, for kernels that fill
# or drain it from their own nogil section (native/inbound_chain.pyx). Python
# callers use the module's def API (native/chunker.pyi).


cdef class Chunker:
    cdef unsigned char* _ring
    cdef Py_ssize_t _chunk       # samples per chunk
    cdef Py_ssize_t _capacity    # ring size in samples
    cdef Py_ssize_t _head        # ring index of the oldest buffered sample
    cdef Py_ssize_t _count       # samples buffered
    cdef Py_ssize_t _dropped     # samples refused since construction or reset()

    cdef void _write(self, const unsigned char* src, Py_ssize_t n) noexcept nogil
    cdef void _read(self, unsigned char* dst, Py_ssize_t n) noexcept nogil
    # push()'s work on a checked pointer: keep what fits, count the rest; return it.
    cdef Py_ssize_t _push(self, const unsigned char* src, Py_ssize_t n) noexcept nogil
    cdef int _get_chunk_out(self, object out, Py_buffer* view) except -1
