"""Voice activity detector for the local barge-in path: one int16 frame in, an event out.

The dsp stage runs this on every inbound 10/20/30 ms frame of every session,
so the whole analysis is one pass over the frame without the GIL and without
allocation. Above 16 kHz the frame is first box-decimated to 12 or 16 kHz
(nothing the detector uses lies above 4 kHz). Then three 2nd-order band-pass
filters (150-700 Hz, 0.7-2 kHz, 2-4 kHz: voicing, formants, fricatives)
accumulate band energy in 2.5 ms sub-blocks. Per frame, each band's level is
compared with that band's own adaptive noise floor; the frame is speech when
the best band is ``threshold_db`` above its floor (``threshold_db - 3`` while
already speech). Per-band floors follow the noise's colour, so pink and white
noise cost the same; the band limits keep out most of a white floor's power.
The first 100 ms of a stream (or after ``reset``) seed the floors and are
taken as noise: speech already under way then is missed until its first pause.

The per-frame decisions drive pipecat's QUIET/STARTING/SPEAKING/STOPPING
machine (``SpeechSegmenter``, the tree's one turn-taking state machine, also
run by the offline model server's server VAD on its own decisions) with
``min_speech_ms``/``min_silence_ms``. The onset is refined to the first 2.5 ms
sub-block above threshold.
"""

import sys

from cpython.buffer cimport (
    PyBUF_C_CONTIGUOUS,
    PyBUF_FORMAT,
    PyBUF_WRITABLE,
    PyBuffer_Release,
    PyObject_GetBuffer,
)
from libc.math cimport isfinite, log10, pi, tan
from libc.stdint cimport int16_t, int32_t, int64_t, uint16_t
from libc.string cimport strcmp

include "_pcm_buffer.pxi"

SPEECH_NONE = 0
SPEECH_START = 1
SPEECH_STOP = 2
SAMPLE_RATES = (8000, 16000, 24000, 32000, 48000)
FRAME_MS = (10, 20, 30)
# webrtcvad only accepts these rates.
CONFIRM_RATES = (8000, 16000, 32000, 48000)

# N_BANDS, MAX_SUBS and the State machine's states are declared in vad.pxd.
cdef enum:
    SUBS_PER_SECOND = 400   # 2.5 ms: the onset resolution
    BOOT_MS = 100           # the floor is the plain mean over the first 100 ms

cdef double HYSTERESIS_DB = 3.0
# Floor tracking per 10 ms: falls 30% of the way to a quieter frame (noise
# dips are real), follows a near-floor frame by 2% (slow drift), and creeps up
# 1 dB/s under speech so a noise step up is never taken for speech forever.
cdef double FLOOR_DOWN = 0.3
cdef double FLOOR_FOLLOW = 0.02
cdef double FLOOR_RISE_DB_PER_S = 1.0
# 20 * log10(32768): levels are kept in int16 units and reported in dBFS.
cdef double FULL_SCALE_DB = 90.30899869919435
cdef double TINY_POWER = 1e-3  # -120 dBFS: the log of digital silence stays finite


cdef inline double _db(double power) noexcept nogil:
    return 10.0 * log10(power + TINY_POWER) - FULL_SCALE_DB


# The filter front end (band design, the per-frame filtering pass).
include "_vad_bands.pxi"
# The onset/hangover state machine (SpeechSegmenter).
include "_speech_segmenter.pxi"


cdef class Vad:
    """Per-frame voice activity with an adaptive floor and an onset/hangover state machine.

    ``sample_rate`` is one of ``SAMPLE_RATES`` and ``frame_ms`` one of 10, 20,
    30. START needs ``min_speech_ms`` of speech frames in a row, STOP
    ``min_silence_ms`` of non-speech frames; ``prefix_padding_ms`` only sets
    ``padded_start_sample``. ``threshold_db`` is how far above its noise floor
    a band must rise to start speech (5.5 dB: the best F1 on the labelled set
    that keeps false alarms on pink noise under 1%). ``confirm=True`` asks
    webrtcvad (mode 3, 8/16/32/48 kHz only) to confirm each frame of a
    would-be onset: that call holds the GIL and costs 1-3 us per confirmed
    frame, but only frames our gate already passed while not yet speaking pay it.

    Not thread-safe: one stream, one owner. Different instances may run in
    different threads at once (``process`` releases the GIL for its analysis).
    """

    # Attributes and cdef methods are declared in vad.pxd.

    def __init__(self, int sample_rate, int frame_ms=10, *, int min_speech_ms=60,
                 int min_silence_ms=300, int prefix_padding_ms=300,
                 double threshold_db=5.5, bint confirm=False):
        if sample_rate not in SAMPLE_RATES:
            raise ValueError(f"sample_rate must be one of {SAMPLE_RATES}, got {sample_rate}")
        if frame_ms not in FRAME_MS:
            raise ValueError(f"frame_ms must be 10, 20 or 30, got {frame_ms}")
        for name, value in (("min_speech_ms", min_speech_ms), ("min_silence_ms", min_silence_ms),
                            ("prefix_padding_ms", prefix_padding_ms)):
            if not 0 <= value <= 60_000:
                raise ValueError(f"{name} must be 0..60000, got {value}")
        if not (isfinite(threshold_db) and 0.0 < threshold_db <= 60.0):
            raise ValueError(f"threshold_db must be in (0, 60], got {threshold_db!r}")
        self._confirm_vad = None
        if confirm:
            if sample_rate not in CONFIRM_RATES:
                raise ValueError(
                    f"sample_rate must be one of {CONFIRM_RATES} with confirm=True "
                    f"(webrtcvad's rates), got {sample_rate}"
                )
            import webrtcvad

            # Mode 3 (the strictest): it can only veto onset frames our gate let through.
            self._confirm_vad = webrtcvad.Vad(3)
        self._rate = sample_rate
        self._frame_ms = frame_ms
        self._frame = sample_rate * frame_ms // 1000
        self._sub = sample_rate // SUBS_PER_SECOND
        self._subs = self._frame // self._sub
        # Box-sum decimation to 12 kHz (24, 48 kHz) or 16 kHz (32 kHz): halves
        # or quarters the filter work. The box response puts aliases that land
        # in the bands 8..10 dB down and droops 1.5 dB at 4 kHz at worst.
        self._decim = 1 if sample_rate <= 16000 else (4 if sample_rate == 48000 else 2)
        cdef int filter_rate = sample_rate // self._decim
        # Every sub-block holds an even number of decimated samples (20..40).
        self._sub_pairs = self._sub // self._decim // 2
        self._segmenter = SpeechSegmenter(
            self._frame,
            min_speech_samples=<int64_t>min_speech_ms * sample_rate // 1000,
            min_silence_samples=<int64_t>min_silence_ms * sample_rate // 1000,
            padding_samples=<int64_t>prefix_padding_ms * sample_rate // 1000,
        )
        self._threshold = threshold_db
        cdef double tenths = frame_ms / 10.0
        self._down = 1.0 - (1.0 - FLOOR_DOWN) ** tenths
        self._follow = 1.0 - (1.0 - FLOOR_FOLLOW) ** tenths
        self._rise = FLOOR_RISE_DB_PER_S * frame_ms / 1000.0
        self._boot_frames = max(1, BOOT_MS // frame_ms)
        _design_bands(self, filter_rate)
        self.reset()

    def reset(self):
        """Forget the stream: filters, noise floor, state and sample count start over."""
        cdef int b
        self._x1 = self._x2 = 0.0
        for b in range(N_BANDS):
            self._y1[b] = self._y2[b] = 0.0
            self._level_db[b] = self._floor_db[b] = _db(0.0)
            self._boot_power[b] = self._power[b] = 0.0
        self._wide_db = self._wide_floor_db = _db(0.0)
        self._wide_power = 0.0
        self._wide_boot_power = 0.0
        self._frames = 0
        self._speech = self._prev_speech = False
        self._segmenter._restart()

    cdef bint _decide(self) noexcept nogil:
        """The raw decision: the best band's margin over its floor, with hysteresis."""
        cdef double best = -1e9, margin
        cdef int b
        if self._frames < self._boot_frames:
            return False
        for b in range(N_BANDS):
            margin = self._level_db[b] - self._floor_db[b]
            if margin > best:
                best = margin
        if self._prev_speech:
            return best > self._threshold - HYSTERESIS_DB
        return best > self._threshold

    cdef int64_t _onset_in_frame(self) noexcept nogil:
        """Index within the frame of the first sub-block above threshold (0 if none is)."""
        cdef int j, b
        cdef double scale = <double>self._decim
        for j in range(self._subs):
            for b in range(N_BANDS):
                if (_db(self._sub_power[b * MAX_SUBS + j] * scale) - self._floor_db[b]
                        > self._threshold):
                    return <int64_t>j * self._sub
        return 0

    cdef double _track(self, double floor, double level, double boot_power) noexcept nogil:
        """One band's floor after this frame (``boot_power`` is its running sum)."""
        if self._frames < self._boot_frames:
            return _db(boot_power / (self._frames + 1))
        if level < floor:
            return floor + self._down * (level - floor)
        if level - floor < self._threshold:
            return floor + self._follow * (level - floor)
        return floor + self._rise

    cdef void _update_floors(self) noexcept nogil:
        cdef int b
        for b in range(N_BANDS):
            self._boot_power[b] += self._power[b]
            self._floor_db[b] = self._track(
                self._floor_db[b], self._level_db[b], self._boot_power[b]
            )
        self._wide_boot_power += self._wide_power
        if self._speech and self._frames >= self._boot_frames:
            self._wide_floor_db += self._rise
        else:
            self._wide_floor_db = self._track(
                self._wide_floor_db, self._wide_db, self._wide_boot_power
            )
        self._frames += 1

    def process(self, pcm):
        """Analyse one frame of little-endian int16 PCM; return SPEECH_NONE/START/STOP.

        ``pcm`` is bytes-like or an int16 array holding exactly ``frame_ms`` of
        mono samples. START is returned once speech has lasted
        ``min_speech_ms`` (``event_sample`` is where it began); STOP once
        ``min_silence_ms`` of non-speech followed it (``event_sample`` is where
        it ended).
        """
        cdef Py_buffer view
        cdef int event
        cdef const unsigned char* frame
        _get_pcm(pcm, &view, "pcm", False)
        try:
            if view.len != 2 * self._frame:
                raise ValueError(
                    f"pcm has {view.len} bytes; a {self._frame_ms} ms frame at "
                    f"{self._rate} Hz is {2 * self._frame} bytes"
                )
            frame = <const unsigned char*>view.buf
            if self._confirm_vad is None:
                with nogil:
                    event = self._run_frame(frame)
                return event
            with nogil:
                _analyse_bands(self, frame)
                self._speech = self._decide()
            if self._speech and (self._segmenter._state == QUIET
                                 or self._segmenter._state == STARTING):
                # Only frames of a would-be onset are confirmed (webrtcvad holds
                # the GIL and costs 1..3 us a frame); speech already started is not.
                self._speech = self._confirm_vad.is_speech(pcm, self._rate)
            with nogil:
                event = self._finish_frame()
            return event
        finally:
            PyBuffer_Release(&view)

    def process_frames(self, pcm):
        """Run ``process`` over consecutive frames until one gives an event; return frames used.

        ``pcm`` holds any whole number of frames (a backlog, a file, a
        transport packet of several frames). Frames are consumed in order,
        without the GIL, up to and including the first one that produces
        START or STOP; that event is ``last_event`` (SPEECH_NONE if none
        came) with its ``event_sample``. The caller continues from the
        returned frame count. With ``confirm=True`` the frames go through
        ``process`` one at a time.
        """
        cdef Py_buffer view
        cdef Py_ssize_t frames, used = 0
        cdef Py_ssize_t frame_bytes = 2 * self._frame
        cdef const unsigned char* base
        cdef int event = 0
        _get_pcm(pcm, &view, "pcm", False)
        try:
            if view.len % frame_bytes:
                raise ValueError(
                    f"pcm has {view.len} bytes, not a whole number of {self._frame_ms} ms "
                    f"frames at {self._rate} Hz ({frame_bytes} bytes each)"
                )
            frames = view.len // frame_bytes
            base = <const unsigned char*>view.buf
            if self._confirm_vad is not None:
                self._segmenter._last_event = 0
                mv = memoryview(pcm).cast("B")
                while used < frames and event == 0:
                    event = self.process(mv[used * frame_bytes : (used + 1) * frame_bytes])
                    used += 1
                return used
            with nogil:
                while used < frames and event == 0:
                    event = self._run_frame(base + used * frame_bytes)
                    used += 1
            if frames == 0:
                self._segmenter._last_event = 0
            return used
        finally:
            PyBuffer_Release(&view)

    cdef int _run_frame(self, const unsigned char* frame) noexcept nogil:
        _analyse_bands(self, frame)
        self._speech = self._decide()
        return self._finish_frame()

    cdef int _finish_frame(self) noexcept nogil:
        cdef int64_t onset = 0
        cdef int event
        if self._speech and self._segmenter._state == QUIET:
            onset = self._onset_in_frame()
        event = self._segmenter._advance(self._speech, onset)
        self._update_floors()
        self._prev_speech = self._speech
        return event

    @property
    def speaking(self):
        """True from START until STOP (STARTING is not yet speaking; STOPPING still is)."""
        return self._segmenter.speaking

    @property
    def last_event(self):
        """What the last frame processed returned: SPEECH_NONE, SPEECH_START or SPEECH_STOP."""
        return self._segmenter._last_event

    @property
    def frame_is_speech(self):
        """The last frame's raw decision, before the onset/hangover machine."""
        return bool(self._speech)

    @property
    def event_sample(self):
        """Stream sample index where the last START's speech began or the last STOP's ended."""
        return self._segmenter._event

    @property
    def padded_start_sample(self):
        """The last START's ``event_sample`` minus ``prefix_padding_ms``, not below 0."""
        return self._segmenter._padded

    @property
    def samples_seen(self):
        """Samples processed since construction or ``reset()``."""
        return self._segmenter._seen

    @property
    def noise_floor_db(self):
        """Adaptive wideband noise floor in dBFS (full-scale square wave = 0 dB)."""
        return self._wide_floor_db

    @property
    def band_floors_db(self):
        """The per-band floors (150-700 Hz, 0.7-2 kHz, 2-4 kHz) in dBFS."""
        return (self._floor_db[0], self._floor_db[1], self._floor_db[2])

    @property
    def sample_rate(self):
        return self._rate

    @property
    def frame_samples(self):
        """Samples per frame that ``process`` expects."""
        return self._frame

    def __repr__(self):
        return (
            f"Vad(sample_rate={self._rate}, frame_ms={self._frame_ms}, "
            f"speaking={self.speaking}, samples_seen={self.samples_seen})"
        )
