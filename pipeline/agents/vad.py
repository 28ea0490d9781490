"""``VAD``: the local voice-activity detector a ``MultimodalAgent`` runs in dsp.

It is a description, not a detector: the native kernel (``native.vad``) runs in
the dsp process on every 10 ms frame; its onsets flush playout at once, before
the model has heard the words (barge-in within a frame or two of the onset).

The defaults are a barge-in's, not a turn detector's: one 10 ms frame 6.5 dB over
the noise floor is an onset. On the noise sets of the VAD tests (white and pink
noise at -30/-40/-50 dBFS, and the labelled speech under white and pink noise at
20/10/5 dB SNR) that makes fewer false onsets than 30 ms at the kernel's 5.5 dB
(3 against 21 in 6 minutes of noise, none in speech pauses either way, every
utterance found) and decides the onset 12 ms sooner (median): see
``benchmarks/barge_in.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

# The barge-in detector's defaults (see above).
BARGE_IN_MIN_SPEECH_MS = 10
BARGE_IN_THRESHOLD_DB = 6.5


@dataclass(frozen=True)
class VAD:
    min_speech_ms: int = BARGE_IN_MIN_SPEECH_MS
    """Speech this long is an onset. Short, so a barge-in silences the agent fast."""
    threshold_db: float = BARGE_IN_THRESHOLD_DB
    """Frame level above the adaptive noise floor that counts as speech (0: the kernel's
    default, 5.5 dB, its best for turn detection)."""

    def __post_init__(self) -> None:
        if not 10 <= self.min_speech_ms <= 1000:
            raise ValueError(f"min_speech_ms must be 10..1000, got {self.min_speech_ms!r}")
        if self.threshold_db < 0:
            raise ValueError(f"threshold_db must be >= 0, got {self.threshold_db!r}")

    @classmethod
    def load(cls, *, min_speech_duration: float = BARGE_IN_MIN_SPEECH_MS / 1000,
             activation_threshold_db: float = BARGE_IN_THRESHOLD_DB) -> VAD:
        """The silero-plugin shaped constructor (``VAD.load()``); durations in seconds."""
        return cls(min_speech_ms=round(min_speech_duration * 1000),
                   threshold_db=activation_threshold_db)
