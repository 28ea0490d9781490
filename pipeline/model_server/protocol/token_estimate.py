"""Token counts for `usage`, estimated from text length and audio duration.

The offline model has no tokenizer; the API's published ballparks are close
enough for clients that budget or display usage: ~4 characters per text
token, ~10 tokens per second of input audio, ~20 per second of output audio.
"""

from __future__ import annotations

import math

from .wire import SAMPLE_RATE

INPUT_AUDIO_TOKENS_PER_S = 10
OUTPUT_AUDIO_TOKENS_PER_S = 20
CHARS_PER_TOKEN = 4


def text_tokens(text: str) -> int:
    """Estimated tokens in `text`."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def audio_tokens(samples: int, per_second: int) -> int:
    """Estimated tokens in `samples` of 24 kHz audio."""
    return math.ceil(samples * per_second / SAMPLE_RATE)
