# Shared by the native kernels through Cython's `include`: how a PCM argument's
# buffer is acquired and checked. Each including module must cimport
# PyObject_GetBuffer, PyBuffer_Release, PyBUF_* and strcmp, and import sys.

# A numpy int16 array exports format "h" (native order), which is the wire's
# little-endian order only on a little-endian host; elsewhere only an explicit
# "<h" passes, so no kernel silently reads byte-swapped audio.
cdef bint _HOST_IS_LITTLE = sys.byteorder == "little"


cdef bint _is_pcm_format(const char* fmt) noexcept:
    """Raw bytes (no format, "B", "b", "c") or little-endian int16."""
    if fmt is NULL:
        return True
    if (strcmp(fmt, b"B") == 0 or strcmp(fmt, b"b") == 0 or strcmp(fmt, b"c") == 0
            or strcmp(fmt, b"<h") == 0):
        return True
    return _HOST_IS_LITTLE and (strcmp(fmt, b"h") == 0 or strcmp(fmt, b"=h") == 0)


cdef int _get_pcm(object obj, Py_buffer* view, str name, bint writable) except -1:
    """Acquire ``obj``'s bytes into ``view``; the caller must ``PyBuffer_Release`` it.

    The raw buffer protocol rather than a typed memoryview: no object is made
    per call (a 10 ms frame converts in ~100 ns, so call overhead dominates),
    and an exporter such as a bytearray cannot be resized while the GIL is
    released over its memory.
    """
    cdef int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
    if writable:
        flags |= PyBUF_WRITABLE
    try:
        PyObject_GetBuffer(obj, view, flags)
    except BufferError as exc:
        kind = "writable C-contiguous" if writable else "C-contiguous"
        raise TypeError(f"{name} must be a {kind} buffer ({exc})") from None
    if not _is_pcm_format(view.format):
        fmt = (<bytes>view.format).decode("ascii", "replace")
        PyBuffer_Release(view)
        raise TypeError(
            f"{name} must be bytes-like or a little-endian int16 buffer, got format {fmt!r}"
        )
    return 0
