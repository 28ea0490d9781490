"""``VAD``: the local voice-activity detector a ``MultimodalAgent`` runs in dsp.

It is a description, not a detector: the native kernel (``native.vad``) runs in
the dsp process on every 10 ms frame; its onsets flush playout at once, before
the model has heard the words (barge-in within a frame or two of the onset).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VAD:
    min_speech_ms: int = 30
    """Speech this long is an onset. Short, so a barge-in silences the agent fast."""
    threshold_db: float = 0.0
    """Frame level above the adaptive noise floor that counts as speech (0: default)."""

    def __post_init__(self) -> None:
        if not 10 <= self.min_speech_ms <= 1000:
            raise ValueError(f"min_speech_ms must be 10..1000, got {self.min_speech_ms!r}")
        if self.threshold_db < 0:
            raise ValueError(f"threshold_db must be >= 0, got {self.threshold_db!r}")

    @classmethod
    def load(cls, *, min_speech_duration: float = 0.03, activation_threshold_db: float = 0.0
             ) -> VAD:
        """The silero-plugin shaped constructor (``VAD.load()``); durations in seconds."""
        return cls(min_speech_ms=round(min_speech_duration * 1000),
                   threshold_db=activation_threshold_db)
