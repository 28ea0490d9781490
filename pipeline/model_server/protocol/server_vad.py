"""Energy-based server VAD (turn detection) on pcm16 24 kHz mono.

The state machine is pipecat's QUIET → STARTING → SPEAKING → STOPPING, the
native kernel's `SpeechSegmenter` (the same machine `native.vad.Vad` runs on
its band decisions), fed one decision per 10 ms frame. The frames' energies are
computed for a whole block at once (numpy, no per-sample Python); only the
per-frame decision and segmenter step are a Python loop, about a hundred steps
per second of audio. The decision is this module's own: OpenAI's `threshold`
semantics (an absolute level) differ from the kernel's band-margin rule.

A frame is *loud* when its RMS level clears both

- an absolute threshold mapped from OpenAI's `threshold` (0..1, default 0.5):
  ``on_dbfs = -70 + 40 * threshold``, so 0 → −70 dBFS, 0.5 → −50 dBFS,
  1 → −30 dBFS (higher = needs louder audio, as the API documents); and
- an adaptive noise floor plus 10 dB. The floor is the quietest frame of the
  last 5 s (minimum statistics over ten 0.5 s blocks, tracked in every state),
  so it drops at once, and steady noise lifts it within 5 s even mid-"turn",
  which ends a turn that noise alone was sustaining; the pauses of real speech
  keep it low. Before the session began the history counts as digital silence.

Hysteresis: once speaking, a frame still counts as speech down to 6 dB under
the on-threshold. Speech starts after 3 consecutive loud frames (30 ms, which
rejects clicks) and is dated at the first of them; it stops after
`silence_duration_ms` of quiet frames and is dated at the end of the last
speech frame, so the stop sample excludes the trailing silence.

Digital silence is clamped to −100 dBFS; white noise at −60 dBFS stays about
10 dB under the default threshold.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

from native.vad import SPEECH_START, SPEECH_STOP, STATE_NAMES, SpeechSegmenter

from .wire import SAMPLE_RATE

FRAME_SAMPLES = SAMPLE_RATE // 100
"""One VAD frame: 10 ms at 24 kHz."""

_FLOOR_MARGIN_DB = 10.0
_HYSTERESIS_DB = 6.0
_MIN_LEVEL_DBFS = -100.0
_START_FRAMES = 3
_FLOOR_BLOCK_FRAMES = 50
_FLOOR_BLOCKS = 10
_FULL_SCALE_SQ = 32768.0 * 32768.0


def threshold_to_dbfs(threshold: float) -> float:
    """Absolute speech threshold in dBFS for the API's 0..1 `threshold`."""
    clamped = min(max(threshold, 0.0), 1.0)
    return -70.0 + 40.0 * clamped


@dataclass(frozen=True)
class VadParams:
    """Turn-detection knobs, named as in the API's `server_vad` object."""

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500


@dataclass(frozen=True)
class SpeechStart:
    """Speech began at `sample` (index on the VAD's own timeline)."""

    sample: int


@dataclass(frozen=True)
class SpeechStop:
    """Speech ended at `sample` (end of the last speech frame, silence excluded).

    `detected_at` is where the silence timeout ran out (`sample` + the silence).
    """

    sample: int
    detected_at: int


VadEvent = SpeechStart | SpeechStop


class VadState(Enum):
    """Where the detector is in a turn."""

    QUIET = "quiet"
    STARTING = "starting"
    SPEAKING = "speaking"
    STOPPING = "stopping"


def frame_levels_dbfs(frames: npt.NDArray[np.int16]) -> list[float]:
    """RMS level in dBFS of each row of an (n, FRAME_SAMPLES) int16 array."""
    x = frames.astype(np.float32)
    mean_sq: list[float] = np.einsum("ij,ij->i", x, x, dtype=np.float64).tolist()
    scale = 1.0 / (frames.shape[1] * _FULL_SCALE_SQ)
    # A handful of frames per append: numpy's per-call cost dwarfs the arithmetic.
    return [max(10.0 * math.log10(m * scale), _MIN_LEVEL_DBFS) if m > 0.0 else _MIN_LEVEL_DBFS
            for m in mean_sq]


class ServerVad:
    """Streaming turn detector; feed it pcm16 in any chunk size."""

    def __init__(self, params: VadParams) -> None:
        self._params = params
        self._on_dbfs = threshold_to_dbfs(params.threshold)
        silence_frames = max(1, -(-params.silence_duration_ms // 10))
        self._segmenter = SpeechSegmenter(
            FRAME_SAMPLES, min_speech_samples=_START_FRAMES * FRAME_SAMPLES,
            min_silence_samples=silence_frames * FRAME_SAMPLES,
        )
        self._pending = np.empty(0, dtype=np.int16)
        self.noise_floor_dbfs = _MIN_LEVEL_DBFS
        self._block_mins = deque([_MIN_LEVEL_DBFS] * _FLOOR_BLOCKS, maxlen=_FLOOR_BLOCKS)
        self._blocks_floor = _MIN_LEVEL_DBFS
        """min(self._block_mins), kept as blocks complete."""
        self._block_min = float("inf")
        self._block_frames = 0

    @property
    def params(self) -> VadParams:
        """The knobs this detector was built with."""
        return self._params

    @property
    def state(self) -> VadState:
        """Where the detector is in a turn."""
        return VadState(STATE_NAMES[self._segmenter.state])

    @property
    def samples_seen(self) -> int:
        """Samples consumed so far, whole frames only."""
        return self._segmenter.samples_seen

    @property
    def in_speech(self) -> bool:
        """True between a SpeechStart and its SpeechStop."""
        return self._segmenter.speaking

    def reset(self) -> None:
        """Forget any turn in progress (keeps the timeline and the noise floor)."""
        self._segmenter.reset()

    def process(self, samples: npt.NDArray[np.int16]) -> list[VadEvent]:
        """Consume `samples`; return the turn boundaries they complete."""
        if self._pending.size:
            samples = np.concatenate((self._pending, samples))
        n_frames = samples.size // FRAME_SAMPLES
        used = n_frames * FRAME_SAMPLES
        self._pending = samples[used:].copy()
        if n_frames == 0:
            return []
        levels = frame_levels_dbfs(samples[:used].reshape(n_frames, FRAME_SAMPLES))
        # One loop with locals: ~100 steps a second for every session on the server.
        segmenter, on_dbfs, floor = self._segmenter, self._on_dbfs, self.noise_floor_dbfs
        events: list[VadEvent] = []
        for level in levels:
            on = max(on_dbfs, floor + _FLOOR_MARGIN_DB)
            floor = self._track_floor(level)
            # Hysteresis: once speaking, weak speech frames stay in the turn.
            kind = segmenter.advance(level >= (on - _HYSTERESIS_DB if segmenter.speaking
                                               else on))
            if kind == SPEECH_START:
                events.append(SpeechStart(segmenter.event_sample))
            elif kind == SPEECH_STOP:
                events.append(SpeechStop(segmenter.event_sample, segmenter.samples_seen))
        return events

    def _track_floor(self, level: float) -> float:
        """Take one frame's level into the floor's history; the floor after it."""
        if level < self._block_min:
            self._block_min = level
        self._block_frames += 1
        if self._block_frames == _FLOOR_BLOCK_FRAMES:
            self._block_mins.append(self._block_min)
            self._blocks_floor = min(self._block_mins)
            self._block_min = float("inf")
            self._block_frames = 0
        floor = self._blocks_floor if self._blocks_floor < self._block_min else self._block_min
        self.noise_floor_dbfs = floor
        return floor
