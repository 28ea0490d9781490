"""`AgentTranscriptionOptions`: how the agent's and the user's speech are transcribed.

Same fields and defaults as `livekit.agents.multimodal.AgentTranscriptionOptions` (0.x).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.agents.tokenize import basic
from pipeline.agents.tokenize.tokenizer import SentenceTokenizer, WordTokenizer


@dataclass(frozen=True)
class AgentTranscriptionOptions:
    """Transcription settings of a `MultimodalAgent`."""

    user_transcription: bool = True
    """Whether to forward the user transcription to the client."""
    agent_transcription: bool = True
    """Whether to forward the agent transcription to the client."""
    agent_transcription_speed: float = 1.0
    """How fast the agent transcription is paced before the response's real speaking rate
    is known (1.0 = a standard 3.83 syllables per second)."""
    sentence_tokenizer: SentenceTokenizer = basic.SentenceTokenizer()  # noqa: RUF009
    """Splits the agent's speech into sentences: each becomes one final transcript."""
    word_tokenizer: WordTokenizer = basic.WordTokenizer(  # noqa: RUF009
        ignore_punctuation=False
    )
    """Splits the agent's speech into words: the interim transcripts grow word by word."""
    hyphenate_word: Callable[[str], list[str]] = basic.hyphenate_word
    """Splits a word into syllables; their count is the word's expected duration."""

    def __post_init__(self) -> None:
        speed = self.agent_transcription_speed
        if not (isinstance(speed, int | float) and speed > 0 and math.isfinite(speed)):
            raise ValueError(f"agent_transcription_speed must be a number > 0, got {speed!r}")
