"""Re-chunking ring buffer: int16 PCM in pushes of any length, out in fixed chunks.

The dsp stage receives transport frames of whatever size the source sends
(10 ms from a room, arbitrary reads from a file) and the model wants fixed
chunks (100 ms by default). ``Chunker`` owns one preallocated int16 ring and
copies with at most two ``memcpy`` per call, without the GIL; output goes into
a buffer the caller owns, so a steady stream allocates nothing.
"""

import sys

from cpython.buffer cimport (
    PyBUF_C_CONTIGUOUS,
    PyBUF_FORMAT,
    PyBUF_WRITABLE,
    PyBuffer_Release,
    PyObject_GetBuffer,
)
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.string cimport memcpy, memset, strcmp

include "_pcm_buffer.pxi"


cdef class Chunker:
    """An int16 ring of ``capacity_samples`` that releases ``chunk_samples`` at a time.

    Overflow policy: when a push does not fit, the samples that fit are kept
    and the *new* excess (the tail of that push) is dropped and counted. Audio
    already buffered is older and may be partly promised to the next chunk, so
    keeping it keeps every chunk a contiguous stretch of the stream; the gap
    falls at one point, which ``dropped_samples`` reports.

    Not thread-safe: one owner (the stage loop serving its stream) calls it.
    Different instances may be used from different threads concurrently.
    """

    # Attributes and cdef methods are declared in chunker.pxd.

    def __cinit__(self, Py_ssize_t chunk_samples, Py_ssize_t capacity_samples):
        if chunk_samples < 1:
            raise ValueError(f"chunk_samples must be >= 1, got {chunk_samples}")
        if capacity_samples < chunk_samples:
            raise ValueError(
                f"capacity_samples must be >= chunk_samples ({chunk_samples}), "
                f"got {capacity_samples}"
            )
        if capacity_samples > (<Py_ssize_t>1 << 40):
            raise ValueError(f"capacity_samples is absurdly large: {capacity_samples}")
        self._ring = <unsigned char*>PyMem_Malloc(2 * capacity_samples)
        if self._ring is NULL:
            raise MemoryError(f"cannot allocate a ring of {capacity_samples} samples")
        self._chunk = chunk_samples
        self._capacity = capacity_samples
        self._head = 0
        self._count = 0
        self._dropped = 0

    def __dealloc__(self):
        PyMem_Free(self._ring)

    cdef void _write(self, const unsigned char* src, Py_ssize_t n) noexcept nogil:
        """Append ``n`` samples; the caller guarantees they fit."""
        cdef Py_ssize_t tail = self._head + self._count
        if tail >= self._capacity:
            tail -= self._capacity
        cdef Py_ssize_t first = min(n, self._capacity - tail)
        memcpy(self._ring + 2 * tail, src, 2 * first)
        if n > first:
            memcpy(self._ring, src + 2 * first, 2 * (n - first))
        self._count += n

    cdef Py_ssize_t _push(self, const unsigned char* src, Py_ssize_t n) noexcept nogil:
        """Append what fits of ``n`` samples, count the rest as dropped; return that count."""
        cdef Py_ssize_t kept = min(n, self._capacity - self._count)
        if kept > 0:
            self._write(src, kept)
        self._dropped += n - kept
        return n - kept

    cdef void _read(self, unsigned char* dst, Py_ssize_t n) noexcept nogil:
        """Move the oldest ``n`` samples to ``dst``; the caller guarantees they exist."""
        cdef Py_ssize_t first = min(n, self._capacity - self._head)
        memcpy(dst, self._ring + 2 * self._head, 2 * first)
        if n > first:
            memcpy(dst + 2 * first, self._ring, 2 * (n - first))
        self._head += n
        if self._head >= self._capacity:
            self._head -= self._capacity
        self._count -= n
        if self._count == 0:
            # An empty ring restarts at 0 so the next chunk is one memcpy.
            self._head = 0

    cdef int _get_chunk_out(self, object out, Py_buffer* view) except -1:
        """Acquire ``out`` writable and at least one chunk long; the caller releases it."""
        _get_pcm(out, view, "out", True)
        if view.len < 2 * self._chunk:
            held = view.len // 2
            PyBuffer_Release(view)
            raise ValueError(f"out holds {held} int16 samples; a chunk is {self._chunk}")
        return 0

    def push(self, pcm):
        """Append little-endian int16 PCM; return how many samples were dropped.

        ``pcm`` is bytes, bytearray, memoryview or an int16 array; an odd byte
        length raises ``ValueError`` (nothing is buffered then). Samples that do
        not fit are dropped from the end of this push (see the class docstring)
        and added to ``dropped_samples``.
        """
        cdef Py_buffer src
        cdef Py_ssize_t dropped
        _get_pcm(pcm, &src, "pcm", False)
        try:
            if src.len & 1:
                raise ValueError(f"pcm has {src.len} bytes; int16 PCM needs an even byte count")
            if src.len == 0 or self._count == self._capacity:
                # Nothing to copy: not worth a GIL hand-off.
                dropped = self._push(<const unsigned char*>src.buf, src.len >> 1)
            else:
                with nogil:
                    dropped = self._push(<const unsigned char*>src.buf, src.len >> 1)
        finally:
            PyBuffer_Release(&src)
        return dropped

    def pop(self, out):
        """Move one chunk into ``out``; return False (``out`` untouched) if one isn't buffered.

        ``out`` is a writable buffer of at least ``chunk_samples`` int16 samples
        (an int16 array, or a bytearray of ``2 * chunk_samples`` bytes); only the
        first ``chunk_samples`` are written. A too-small ``out`` raises
        ``ValueError`` whether or not a chunk is ready.
        """
        cdef Py_buffer dst
        self._get_chunk_out(out, &dst)
        try:
            if self._count < self._chunk:
                return False
            with nogil:
                self._read(<unsigned char*>dst.buf, self._chunk)
        finally:
            PyBuffer_Release(&dst)
        return True

    def pop_partial(self, out):
        """Move up to one chunk into ``out``, zero-padding it to ``chunk_samples``.

        For the end of a stream: returns the number of real samples written
        (``min(available, chunk_samples)``); the rest of the chunk in ``out`` is
        zeros. ``out`` is sized as for ``pop``.
        """
        cdef Py_buffer dst
        cdef Py_ssize_t n = min(self._count, self._chunk)
        cdef unsigned char* o
        self._get_chunk_out(out, &dst)
        try:
            o = <unsigned char*>dst.buf
            with nogil:
                if n > 0:
                    self._read(o, n)
                memset(o + 2 * n, 0, 2 * (self._chunk - n))
        finally:
            PyBuffer_Release(&dst)
        return n

    def reset(self):
        """Forget buffered audio and zero ``dropped_samples`` (a new stream starts)."""
        self._head = 0
        self._count = 0
        self._dropped = 0

    @property
    def available(self):
        """Samples buffered now."""
        return self._count

    @property
    def chunk_samples(self):
        """Samples per chunk that ``pop`` releases."""
        return self._chunk

    @property
    def capacity_samples(self):
        """Most samples the ring holds."""
        return self._capacity

    @property
    def dropped_samples(self):
        """Samples refused by ``push`` because the ring was full, since construction or reset."""
        return self._dropped

    def __repr__(self):
        return (
            f"Chunker(chunk_samples={self._chunk}, capacity_samples={self._capacity}, "
            f"available={self._count}, dropped_samples={self._dropped})"
        )
