"""Rule-based English tokenizers: the defaults of the agent transcription.

Mirrors `livekit.agents.tokenize.basic`: `SentenceTokenizer`, `WordTokenizer` and
`hyphenate_word`.
"""

from __future__ import annotations

from pipeline.agents.tokenize import hyphenation
from pipeline.agents.tokenize import tokenizer as base
from pipeline.language.sentences import split_sentences

__all__ = ["SentenceTokenizer", "WordTokenizer", "hyphenate_word"]


class SentenceTokenizer(base.SentenceTokenizer):
    """Splits English text into sentences (the rules: `pipeline.language.sentences`)."""

    def __init__(self, *, language: str = "english", min_sentence_len: int = 20) -> None:
        """`min_sentence_len`: shorter sentences are merged with the ones after them."""
        if min_sentence_len < 0:
            raise ValueError(f"min_sentence_len must be >= 0, got {min_sentence_len}")
        self.language = language
        self.min_sentence_len = min_sentence_len

    def tokenize(self, text: str, *, language: str | None = None) -> list[str]:
        """The sentences of `text`, whitespace collapsed."""
        return split_sentences(text, min_sentence_len=self.min_sentence_len)


class WordTokenizer(base.WordTokenizer):
    """Splits text on whitespace.

    With `ignore_punctuation` (the default) punctuation around a word is dropped
    ("Hello," -> "Hello"; inner apostrophes and hyphens stay) and punctuation-only tokens
    disappear; without it, punctuation stays attached to its word, which is what a
    transcript needs.
    """

    def __init__(self, *, ignore_punctuation: bool = True) -> None:
        self.ignore_punctuation = ignore_punctuation

    def tokenize(self, text: str, *, language: str | None = None) -> list[str]:
        """The words of `text`, in order."""
        words = text.split()
        if not self.ignore_punctuation:
            return words
        stripped = (word.strip("".join(base.PUNCTUATION)) for word in words)
        return [word for word in stripped if word]


def hyphenate_word(word: str) -> list[str]:
    """The syllables of an English word (see `pipeline.agents.tokenize.hyphenation`)."""
    return hyphenation.hyphenate_word(word)
