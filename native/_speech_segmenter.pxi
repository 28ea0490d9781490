# The speech segmenter, included by native/vad.pyx: pipecat's
# QUIET/STARTING/SPEAKING/STOPPING machine on one speech/non-speech decision
# per frame. Apart from the analysis because it is the one turn-taking state
# machine of the tree: the Vad runs it on its band decisions, the offline model
# server's server VAD (pipeline/model_server/protocol/server_vad.py) on its
# level decisions. Requires the including module's cimports (libc.stdint).

STATE_NAMES = ("quiet", "starting", "speaking", "stopping")


cdef class SpeechSegmenter:
    """Speech START/STOP events from one speech/non-speech decision per frame.

    Every frame is ``frame_samples`` long and the stream clock counts them.
    QUIET -> STARTING on a speech frame (the onset is the frame's start plus
    the caller's ``onset`` offset within it); START once speech has lasted
    ``min_speech_samples`` from the onset without a non-speech frame
    (``event_sample`` = the onset). SPEAKING -> STOPPING on a non-speech frame
    (the stop is that frame's start, the end of the last speech frame); a
    speech frame returns to SPEAKING; STOP once ``min_silence_samples`` have
    passed since the stop (``event_sample`` = the stop, silence excluded).
    ``padded_start_sample`` is the last START's onset minus ``padding_samples``.

    Not thread-safe: one stream, one owner.
    """

    # Attributes and cdef methods are declared in vad.pxd.

    def __init__(self, int64_t frame_samples, *, int64_t min_speech_samples,
                 int64_t min_silence_samples, int64_t padding_samples=0):
        if frame_samples <= 0:
            raise ValueError(f"frame_samples must be > 0, got {frame_samples}")
        for name, value in (("min_speech_samples", min_speech_samples),
                            ("min_silence_samples", min_silence_samples),
                            ("padding_samples", padding_samples)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self._frame = frame_samples
        self._min_speech = min_speech_samples
        self._min_silence = min_silence_samples
        self._padding = padding_samples
        self._restart()

    cdef void _restart(self) noexcept nogil:
        """State, events and clock start over."""
        self._clear()
        self._seen = 0
        self._start = self._stop = self._event = self._padded = 0
        self._last_event = 0

    cdef void _clear(self) noexcept nogil:
        self._state = QUIET

    cdef int _advance(self, bint speech, int64_t onset) noexcept nogil:
        """One frame's decision through the machine; returns 0, 1 (START) or 2 (STOP)."""
        cdef int64_t frame_start = self._seen
        cdef int64_t frame_end = self._seen + self._frame
        cdef int event = 0
        if self._state == QUIET:
            if speech:
                self._start = frame_start + onset
                self._state = STARTING
        elif self._state == STARTING:
            if not speech:
                self._state = QUIET
        elif self._state == SPEAKING:
            if not speech:
                self._stop = frame_start
                self._state = STOPPING
        elif self._state == STOPPING:
            if speech:
                self._state = SPEAKING
        if self._state == STARTING and frame_end - self._start >= self._min_speech:
            self._state = SPEAKING
            self._event = self._start
            self._padded = max(0, self._start - self._padding)
            event = 1
        elif self._state == STOPPING and frame_end - self._stop >= self._min_silence:
            self._state = QUIET
            self._event = self._stop
            event = 2
        self._seen = frame_end
        self._last_event = event
        return event

    def advance(self, bint speech, int64_t onset=0):
        """Take one frame's decision; return SPEECH_NONE, SPEECH_START or SPEECH_STOP.

        ``onset`` (0 <= onset < frame_samples) is where in this frame speech
        began; it only matters on the frame that leaves QUIET.
        """
        if not 0 <= onset < self._frame:
            raise ValueError(f"onset must be 0..{self._frame - 1}, got {onset}")
        return self._advance(speech, onset)

    def reset(self):
        """Forget the turn in progress (back to QUIET); the clock keeps counting."""
        self._clear()

    @property
    def state(self):
        """0..3: QUIET, STARTING, SPEAKING, STOPPING (names in ``STATE_NAMES``)."""
        return <int>self._state

    @property
    def speaking(self):
        """True from START until STOP (STARTING is not yet speaking; STOPPING still is)."""
        return self._state == SPEAKING or self._state == STOPPING

    @property
    def last_event(self):
        """What the last frame returned: SPEECH_NONE, SPEECH_START or SPEECH_STOP."""
        return self._last_event

    @property
    def event_sample(self):
        """Stream sample where the last START's speech began or the last STOP's ended."""
        return self._event

    @property
    def padded_start_sample(self):
        """The last START's ``event_sample`` minus the padding, not below 0."""
        return self._padded

    @property
    def samples_seen(self):
        """Samples of the frames taken since construction (or the owner's restart)."""
        return self._seen

    @property
    def frame_samples(self):
        return self._frame

    def __repr__(self):
        return (f"SpeechSegmenter(frame_samples={self._frame}, "
                f"state={STATE_NAMES[self._state]!r}, samples_seen={self._seen})")
