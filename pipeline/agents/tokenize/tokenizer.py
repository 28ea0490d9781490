"""The tokenizer interfaces the agent transcription is written against.

Any object implementing these can be passed where a tokenizer is expected (for example in
`AgentTranscriptionOptions`); `pipeline.agents.tokenize.basic` holds the rule-based defaults.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~±—–‘’“”…«»¿¡")
"""Characters treated as punctuation when trimming words and interim transcripts."""


class SentenceTokenizer(ABC):
    """Splits text into sentences."""

    @abstractmethod
    def tokenize(self, text: str, *, language: str | None = None) -> list[str]:
        """The sentences of `text`, in order, each stripped of surrounding whitespace."""


class WordTokenizer(ABC):
    """Splits text into words."""

    @abstractmethod
    def tokenize(self, text: str, *, language: str | None = None) -> list[str]:
        """The words of `text`, in order."""

    def format_words(self, words: list[str]) -> str:
        """Join words back into display text."""
        return " ".join(words)
