# C-level declarations of native/vad.pyx's Vad and SpeechSegmenter, for kernels
# that run them on frames from their own nogil section (native/inbound_chain.pyx).
# Python callers use the module's def API (native/vad.pyi).

from libc.stdint cimport int64_t

cdef enum:
    N_BANDS = 3
    MAX_SUBS = 12           # 30 ms of 2.5 ms sub-blocks

# pipecat's onset/hangover machine; SPEAKING and STOPPING count as speaking.
cdef enum State:
    QUIET = 0
    STARTING = 1
    SPEAKING = 2
    STOPPING = 3


cdef class SpeechSegmenter:
    cdef int64_t _frame, _min_speech, _min_silence, _padding
    cdef State _state
    cdef int64_t _seen                      # the stream clock: samples of the frames taken
    cdef int64_t _start, _stop, _event, _padded
    cdef int _last_event

    cdef void _restart(self) noexcept nogil
    cdef void _clear(self) noexcept nogil
    # One frame's decision (``onset``: where in the frame speech began) through the
    # machine; returns 0 (none), 1 (START) or 2 (STOP) and advances the clock.
    cdef int _advance(self, bint speech, int64_t onset) noexcept nogil


cdef class Vad:
    # Configuration
    cdef int _rate, _frame_ms, _frame, _sub, _subs, _decim, _sub_pairs
    cdef double _threshold
    cdef double _down, _follow, _rise
    cdef int _boot_frames
    cdef double[N_BANDS] _b0, _a1, _a2, _c1, _c2
    cdef object _confirm_vad
    # Filter state
    cdef double _x1, _x2
    cdef double[N_BANDS] _y1, _y2
    # Analysis results of the last frame
    cdef double[N_BANDS] _power             # band powers of the frame, int16 units
    cdef double[N_BANDS] _level_db          # the same in dBFS
    cdef double[N_BANDS * MAX_SUBS] _sub_power
    cdef double _wide_power, _wide_db
    # Tracking state
    cdef double[N_BANDS] _floor_db
    cdef double[N_BANDS] _boot_power
    cdef double _wide_floor_db, _wide_boot_power
    cdef int64_t _frames
    cdef bint _speech, _prev_speech
    cdef SpeechSegmenter _segmenter         # the onset/hangover machine and the clock

    cdef bint _decide(self) noexcept nogil
    cdef int64_t _onset_in_frame(self) noexcept nogil
    cdef double _track(self, double floor, double level, double boot_power) noexcept nogil
    cdef void _update_floors(self) noexcept nogil
    # One frame of ``_frame`` int16 samples (the caller checked its length) through
    # analysis, decision and state machine; returns 0 (none), 1 (START) or 2 (STOP).
    cdef int _run_frame(self, const unsigned char* frame) noexcept nogil
    cdef int _finish_frame(self) noexcept nogil
