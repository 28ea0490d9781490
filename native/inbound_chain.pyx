"""The dsp stage's inbound chain in one call: downmix -> resample -> chunk ring -> VAD.

Why one kernel: per 10 ms frame the chain is ~3 us of work (resample ~2 us, VAD
~0.6 us), and run as separate kernels it was 3+ calls that each released and
re-took the GIL. With two threads every release/re-take is a contended hand-off
that costs more than the work, so two threads ran at x0.73-1.0 of one.
``InboundChain.process`` does the whole chain for one or many input frames in
a single ``with nogil:`` section: one GIL hand-off per call, and ~0.6 us less
Python per frame.

The stages are the colleagues' kernels driven at C level (``resample.pxd``,
``chunker.pxd``, ``vad.pxd``), so the chunks and VAD events are bit-identical
to running ``downmix_s16`` -> ``Resampler.process_s16`` -> ``Chunker`` -> ``Vad``
on 10 ms frames of the resampled audio, however the input is cut into calls.
VAD events wait in a fixed C array (``pop_event``); chunks in the ring
(``pop_chunk``). Buffers are sized for ``max_input_frames`` at construction;
nothing is allocated per call.
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
from libc.stdint cimport int16_t, int32_t, int64_t, uint16_t
from libc.string cimport memcpy, strcmp

from native.chunker cimport Chunker
from native.resample cimport Resampler
from native.vad cimport SPEAKING, STOPPING, Vad

from native.vad import SAMPLE_RATES as VAD_RATES
from native.vad import SPEECH_START, SPEECH_STOP

include "_pcm_buffer.pxi"

MAX_CHANNELS = 8
VAD_FRAME_MS = 10
# One call takes at most this much input: it bounds the scratch buffers and
# guarantees that one call's VAD events fit the event queue.
MAX_INPUT_MS = 1000
# The ring holds 5 s of 100 ms chunks, as the dsp stage's Chunker did.
RING_CHUNKS = 50

cdef enum:
    EVENT_CAPACITY = 128  # > the 101 VAD frames one call of MAX_INPUT_MS can complete
EVENT_QUEUE_CAPACITY = EVENT_CAPACITY


include "_pcm_samples.pxi"


cdef class InboundChain:
    """One session's inbound audio: interleaved int16 at ``in_rate`` in, mono chunks out.

    ``process(pcm)`` takes whole input frames (``frame_ms`` each, up to
    ``max_input_frames`` per call) and returns the chunks ready to pop.
    ``in_rate`` is one of the resampler's rates; with ``vad`` the output rate
    must be one of the VAD's (8, 16, 24, 32, 48 kHz): it runs on every 10 ms
    of resampled audio, and each START/STOP is queued as ``(kind,
    event_sample)``, the sample counted at ``out_rate`` from the first output.
    ``vad_threshold_db=None`` keeps the detector's default.

    Not thread-safe: one owner. A call that overlaps another call on the same
    chain raises RuntimeError; different chains run in different threads at once.
    """

    cdef Resampler _resampler
    cdef Chunker _ring
    cdef Vad _vad                  # None without vad
    cdef bint _vad_on
    cdef int _in_rate, _out_rate, _channels, _frame_ms
    cdef Py_ssize_t _frame_in      # samples per channel in one input frame
    cdef Py_ssize_t _frame_bytes   # bytes of one interleaved input frame
    cdef Py_ssize_t _max_frames
    cdef unsigned char* _mono      # one call's downmixed input (more than one channel)
    cdef unsigned char* _out       # one call's resampled output
    cdef unsigned char* _carry     # resampled samples not yet a whole VAD frame
    cdef Py_ssize_t _vad_frame, _carried
    cdef int[EVENT_CAPACITY] _kinds
    cdef int64_t[EVENT_CAPACITY] _samples
    cdef int _first_event, _events
    cdef int64_t _events_dropped, _samples_out
    cdef bint _busy

    def __cinit__(self, int in_rate, int out_rate, *, int in_channels=1, int frame_ms=10,
                  int chunk_ms=100, bint vad=True, int vad_min_speech_ms=30,
                  int vad_min_silence_ms=500, int vad_prefix_padding_ms=300,
                  vad_threshold_db=None):
        if not 1 <= in_channels <= MAX_CHANNELS:
            raise ValueError(f"in_channels must be 1..{MAX_CHANNELS}, got {in_channels}")
        if not 1 <= frame_ms <= MAX_INPUT_MS:
            raise ValueError(f"frame_ms must be 1..{MAX_INPUT_MS}, got {frame_ms}")
        if vad and out_rate not in VAD_RATES:
            raise ValueError(f"out_rate must be one of {VAD_RATES} with vad=True, got {out_rate}")
        self._resampler = Resampler(in_rate, out_rate)  # checks both rates
        chunk = <Py_ssize_t>out_rate * chunk_ms // 1000
        if chunk_ms < 1 or chunk < 1:
            raise ValueError(f"chunk_ms must be >= 1 and a whole sample at least, got {chunk_ms}")
        self._in_rate, self._out_rate, self._channels = in_rate, out_rate, in_channels
        self._frame_ms = frame_ms
        self._frame_in = <Py_ssize_t>in_rate * frame_ms // 1000
        self._frame_bytes = 2 * in_channels * self._frame_in
        self._max_frames = MAX_INPUT_MS // frame_ms
        max_in = self._max_frames * self._frame_in
        max_out = self._resampler.max_output(max_in)
        self._ring = Chunker(chunk, max(RING_CHUNKS * chunk, max_out + chunk))
        self._vad_on = vad
        self._vad_frame = <Py_ssize_t>out_rate * VAD_FRAME_MS // 1000
        if vad:
            threshold = {} if vad_threshold_db is None else {"threshold_db": vad_threshold_db}
            self._vad = Vad(out_rate, VAD_FRAME_MS, min_speech_ms=vad_min_speech_ms,
                            min_silence_ms=vad_min_silence_ms,
                            prefix_padding_ms=vad_prefix_padding_ms, **threshold)
        self._mono = <unsigned char*>PyMem_Malloc(2 * max_in if in_channels > 1 else 1)
        self._out = <unsigned char*>PyMem_Malloc(2 * max_out)
        self._carry = <unsigned char*>PyMem_Malloc(2 * self._vad_frame)
        if self._mono is NULL or self._out is NULL or self._carry is NULL:
            raise MemoryError("cannot allocate the chain's buffers")
        self._forget()

    def __dealloc__(self):
        PyMem_Free(self._mono)
        PyMem_Free(self._out)
        PyMem_Free(self._carry)

    cdef void _forget(self) noexcept:
        self._carried = 0
        self._first_event = self._events = 0
        self._events_dropped = self._samples_out = 0
        self._busy = False

    cdef void _queue(self, int kind) noexcept nogil:
        cdef int slot
        if kind == 0:
            return
        if self._events == EVENT_CAPACITY:
            # The owner stopped reading events: the latest state matters most.
            self._first_event = (self._first_event + 1) % EVENT_CAPACITY
            self._events -= 1
            self._events_dropped += 1
        slot = (self._first_event + self._events) % EVENT_CAPACITY
        self._kinds[slot] = kind
        self._samples[slot] = self._vad._segmenter._event
        self._events += 1

    cdef void _detect(self, const unsigned char* p, Py_ssize_t n) noexcept nogil:
        """Run the VAD on every whole 10 ms frame of carried + ``n`` new samples."""
        cdef Py_ssize_t take, size = self._vad_frame
        if self._carried > 0:
            take = min(n, size - self._carried)
            memcpy(self._carry + 2 * self._carried, p, 2 * take)
            self._carried += take
            p += 2 * take
            n -= take
            if self._carried < size:
                return
            self._carried = 0
            self._queue(self._vad._run_frame(self._carry))
        while n >= size:
            self._queue(self._vad._run_frame(p))
            p += 2 * size
            n -= size
        if n > 0:
            memcpy(self._carry, p, 2 * n)
            self._carried = n

    cdef void _run(self, const unsigned char* pcm, Py_ssize_t n) noexcept nogil:
        """The whole chain on ``n`` checked input frames of ``_channels`` samples."""
        cdef Py_ssize_t m
        if self._channels > 1:
            _downmix_frames(pcm, self._channels, n, self._mono)
            pcm = self._mono
        m = self._resampler._feed(pcm, n, self._out, True)
        self._samples_out += m
        self._ring._push(self._out, m)
        if self._vad_on:
            self._detect(self._out, m)

    cdef int _enter(self) except -1:
        # Set and tested under the GIL, so the check itself cannot race.
        if self._busy:
            raise RuntimeError("InboundChain is already in use by another thread")
        return 0

    def process(self, pcm):
        """Run whole input frames through the chain; return the chunks now ready to pop.

        ``pcm`` is bytes-like or an int16 array of interleaved little-endian
        int16, a whole number of ``frame_ms`` frames (``frame_bytes`` each), at
        most ``max_input_frames`` of them; anything else raises ``ValueError``
        and changes nothing. The GIL is released once, for all of the work.
        """
        cdef Py_buffer view
        cdef Py_ssize_t frames
        _get_pcm(pcm, &view, "pcm", False)
        try:
            if view.len % self._frame_bytes:
                raise ValueError(
                    f"pcm has {view.len} bytes, not a whole number of {self._frame_ms} ms "
                    f"frames of {self._channels}-channel int16 at {self._in_rate} Hz "
                    f"({self._frame_bytes} bytes each)"
                )
            frames = view.len // self._frame_bytes
            if frames > self._max_frames:
                raise ValueError(
                    f"pcm holds {frames} frames; max_input_frames is {self._max_frames}"
                )
            self._enter()
            if frames > 0:
                self._busy = True
                with nogil:
                    self._run(<const unsigned char*>view.buf, frames * self._frame_in)
                self._busy = False
        finally:
            PyBuffer_Release(&view)
        return self._ring._count // self._ring._chunk

    def pop_chunk(self, out):
        """Move the oldest ready chunk into ``out``; False (``out`` untouched) if none is.

        ``out`` is a writable buffer of at least ``chunk_samples`` int16 samples
        (too small: ``ValueError``, chunk ready or not).
        """
        cdef Py_buffer dst
        self._enter()
        self._ring._get_chunk_out(out, &dst)
        try:
            if self._ring._count < self._ring._chunk:
                return False
            # Under the GIL: one chunk's memcpy (~0.1 us) costs less than a GIL hand-off.
            self._ring._read(<unsigned char*>dst.buf, self._ring._chunk)
        finally:
            PyBuffer_Release(&dst)
        return True

    def pop_event(self):
        """The oldest unread VAD event as ``(SPEECH_START or SPEECH_STOP, event_sample)``.

        ``event_sample`` counts output-rate samples from the chain's first
        output (where START's speech began, where STOP's ended). None if no
        event is waiting.
        """
        self._enter()
        if self._events == 0:
            return None
        cdef int i = self._first_event
        self._first_event = (i + 1) % EVENT_CAPACITY
        self._events -= 1
        return (self._kinds[i], self._samples[i])

    def reset(self):
        """Start a new stream: resampler history, buffered chunks, VAD state and events go."""
        self._enter()
        self._resampler._reset()
        self._ring._head = self._ring._count = self._ring._dropped = 0
        if self._vad_on:
            self._vad.reset()
        self._forget()

    @property
    def speaking(self):
        """True from a START until its STOP (the VAD's ``speaking``); False without VAD."""
        return self._vad_on and (self._vad._segmenter._state == SPEAKING
                                or self._vad._segmenter._state == STOPPING)

    @property
    def in_rate(self):
        return self._in_rate

    @property
    def out_rate(self):
        return self._out_rate

    @property
    def in_channels(self):
        return self._channels

    @property
    def vad(self):
        """Whether the chain runs the VAD."""
        return bool(self._vad_on)

    @property
    def frame_samples(self):
        """Samples per channel in one input frame (``in_rate * frame_ms // 1000``)."""
        return self._frame_in

    @property
    def frame_bytes(self):
        """Bytes of one interleaved input frame; ``process`` takes multiples of it."""
        return self._frame_bytes

    @property
    def max_input_frames(self):
        """Most input frames one ``process`` call takes (1 s of input)."""
        return self._max_frames

    @property
    def chunk_samples(self):
        """Output samples per chunk."""
        return self._ring._chunk

    @property
    def available(self):
        """Output samples buffered in the ring (whole chunks and the partial one)."""
        return self._ring._count

    @property
    def dropped_samples(self):
        """Output samples lost because the ring was full (chunks not popped)."""
        return self._ring._dropped

    @property
    def samples_out(self):
        """Output samples produced since construction or ``reset()``."""
        return self._samples_out

    @property
    def events_dropped(self):
        """VAD events lost because ``EVENT_CAPACITY`` were unread."""
        return self._events_dropped

    @property
    def delay_samples(self):
        """The resampler's delay in output samples."""
        return self._resampler._delay

    @property
    def delay_ms(self):
        """The resampler's delay, input to output, in milliseconds."""
        return self._resampler.delay_ms

    @property
    def held_back(self):
        """Input samples (per channel) whose delay-aligned output is not emitted yet."""
        return self._resampler.held_back

    def __repr__(self):
        return (
            f"InboundChain(in_rate={self._in_rate}, out_rate={self._out_rate}, "
            f"in_channels={self._channels}, chunk_samples={self._ring._chunk}, "
            f"vad={bool(self._vad_on)}, samples_out={self._samples_out})"
        )

