"""Typed interface of ``native/vad.pyx`` (see its docstrings for the exact rules)."""

from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt
from _typeshed import ReadableBuffer

# numpy's stubs give ndarray the buffer protocol only on Python >= 3.12, so
# the arrays the detector accepts are spelled out.
_Bytes: TypeAlias = npt.NDArray[np.int16] | npt.NDArray[np.uint8] | npt.NDArray[np.int8]
_PcmIn: TypeAlias = ReadableBuffer | _Bytes

SPEECH_NONE: Final[int]
SPEECH_START: Final[int]
SPEECH_STOP: Final[int]
SAMPLE_RATES: Final[tuple[int, ...]]
FRAME_MS: Final[tuple[int, ...]]
CONFIRM_RATES: Final[tuple[int, ...]]
STATE_NAMES: Final[tuple[str, str, str, str]]

class SpeechSegmenter:
    """pipecat's QUIET/STARTING/SPEAKING/STOPPING machine on one speech decision per frame."""

    def __init__(
        self,
        frame_samples: int,
        *,
        min_speech_samples: int,
        min_silence_samples: int,
        padding_samples: int = 0,
    ) -> None: ...
    def advance(self, speech: bool, onset: int = 0) -> int:
        """Take one frame's decision; return SPEECH_NONE/START/STOP."""

    def reset(self) -> None:
        """Forget the turn in progress (back to QUIET); the clock keeps counting."""

    @property
    def state(self) -> int:
        """0..3: QUIET, STARTING, SPEAKING, STOPPING (names in ``STATE_NAMES``)."""

    @property
    def speaking(self) -> bool:
        """True from START until STOP."""

    @property
    def last_event(self) -> int:
        """What the last frame returned (SPEECH_NONE/START/STOP)."""

    @property
    def event_sample(self) -> int:
        """Stream sample where the last START's speech began or the last STOP's ended."""

    @property
    def padded_start_sample(self) -> int:
        """The last START's ``event_sample`` minus the padding, not below 0."""

    @property
    def samples_seen(self) -> int:
        """Samples of the frames taken so far."""

    @property
    def frame_samples(self) -> int: ...

class Vad:
    """Per-frame voice activity: adaptive per-band floors, onset/hangover state machine."""

    def __init__(
        self,
        sample_rate: int,
        frame_ms: int = 10,
        *,
        min_speech_ms: int = 60,
        min_silence_ms: int = 300,
        prefix_padding_ms: int = 300,
        threshold_db: float = 5.5,
        confirm: bool = False,
    ) -> None: ...
    def process(self, pcm: _PcmIn) -> int:
        """Analyse exactly one frame of int16 PCM; return SPEECH_NONE/START/STOP."""

    def process_frames(self, pcm: _PcmIn) -> int:
        """Consume whole frames up to and including the first with an event; return frames used."""

    def reset(self) -> None:
        """Forget the stream: filters, floors, state and sample count start over."""

    @property
    def speaking(self) -> bool:
        """True from START until STOP."""

    @property
    def last_event(self) -> int:
        """What the last frame processed returned (SPEECH_NONE/START/STOP)."""

    @property
    def frame_is_speech(self) -> bool:
        """The last frame's raw decision, before the onset/hangover machine."""

    @property
    def event_sample(self) -> int:
        """Stream sample where the last START's speech began or the last STOP's ended."""

    @property
    def padded_start_sample(self) -> int:
        """The last START's ``event_sample`` minus the prefix padding, not below 0."""

    @property
    def samples_seen(self) -> int:
        """Samples processed since construction or ``reset()``."""

    @property
    def noise_floor_db(self) -> float:
        """Adaptive wideband noise floor in dBFS."""

    @property
    def band_floors_db(self) -> tuple[float, float, float]:
        """Per-band floors (150-700 Hz, 0.7-2 kHz, 2-4 kHz) in dBFS."""

    @property
    def sample_rate(self) -> int: ...
    @property
    def frame_samples(self) -> int:
        """Samples per frame that ``process`` expects."""
