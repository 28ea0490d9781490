"""Word error rate with a small English normalizer, for tests and benchmarks.

Recognizers disagree on surface form ("ten" vs "10", "What's" vs "what is",
trailing punctuation), none of which matters to a tool call, so both sides are
lower-cased, stripped of punctuation, contractions expanded and numbers up to
twenty spelled out before the word-level edit distance is taken.
"""

from __future__ import annotations

import re

_NUMBERS = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty",
]  # fmt: skip
_CONTRACTIONS = {
    "what's": "what is",
    "it's": "it is",
    "that's": "that is",
    "i'm": "i am",
    "we'll": "we will",
    "i'll": "i will",
    "you're": "you are",
    "don't": "do not",
    "can't": "can not",
    "let's": "let us",
}
_NOT_WORD = re.compile(r"[^a-z0-9' ]+")


def normalize_words(text: str) -> list[str]:
    """The words that are compared, e.g. "What's it, 10?" -> [what, is, it, ten]."""
    words: list[str] = []
    for word in _NOT_WORD.sub(" ", text.lower().replace("’", "'")).split():
        word = _CONTRACTIONS.get(word, word).strip("'")
        for part in word.split():
            words.append(_NUMBERS[int(part)] if part.isdigit() and int(part) <= 20 else part)
    return words


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference word count) after normalizing."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, start=1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[-1], len(ref)


def word_error_rate(pairs: list[tuple[str, str]]) -> float:
    """Corpus WER over (reference, hypothesis) pairs: total errors / total reference words."""
    errors = words = 0
    for reference, hypothesis in pairs:
        e, n = word_errors(reference, hypothesis)
        errors += e
        words += n
    return errors / words if words else 0.0
