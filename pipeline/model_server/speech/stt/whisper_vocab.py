"""Whisper's byte-level BPE vocabulary, read from a CTranslate2 model's ``vocabulary.txt``.

Decoding is exact: each token is a string of stand-in characters, one per byte
(GPT-2's byte-to-unicode table), so ids -> bytes -> UTF-8. Encoding is only
needed for prompts (recognition hints), so it is a greedy longest-match over
the vocabulary instead of the real BPE merges: the pieces differ from what the
model would emit for the same text but every piece is a real token and they
spell the text exactly, which is all a prompt needs (and spares the
``tokenizers``/``huggingface_hub`` dependency).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

WORD_START = "Ġ"  # the stand-in for a leading space byte
_LONGEST_TOKEN = 24  # characters; longer vocabulary entries are never needed for prompts
# ASCII approximation of GPT-2's pre-tokenizer: contractions, words, numbers, punctuation.
_PIECES = re.compile(r"'(?:s|t|re|ve|m|ll|d)| ?[A-Za-z]+| ?[0-9]{1,3}| ?[^\sA-Za-z0-9]+")


@functools.cache
def _byte_to_char() -> dict[int, str]:
    """GPT-2's reversible map: printable bytes stand for themselves, the rest shift past 255."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shifted)
            shifted += 1
    return table


class WhisperVocab:
    """Token ids <-> text for one Whisper model."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.ids = {token: i for i, token in enumerate(tokens)}
        self._char_to_byte = {c: b for b, c in _byte_to_char().items()}
        self.end_of_text = self.ids["<|endoftext|>"]
        self.first_special = self.end_of_text  # everything from here on is a control token

    @classmethod
    def load(cls, model_dir: Path) -> WhisperVocab:
        text = (model_dir / "vocabulary.txt").read_text(encoding="utf-8")
        return cls(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"))

    def starts_word(self, token_id: int) -> bool:
        """Whether the token begins with a space, i.e. starts a new word."""
        return self.tokens[token_id].startswith(WORD_START)

    def decode(self, token_ids: list[int]) -> str:
        """The text the (non-control) tokens spell."""
        raw = bytearray()
        for i in token_ids:
            if i < self.first_special:
                raw.extend(self._char_to_byte[c] for c in self.tokens[i])
        return raw.decode("utf-8", errors="replace")

    def encode(self, text: str) -> list[int]:
        """Greedy longest-match token ids spelling ``text``; unknown characters are dropped."""
        table = _byte_to_char()
        out: list[int] = []
        for piece in _PIECES.findall(text):
            chars = "".join(table[b] for b in piece.encode("utf-8"))
            start = 0
            while start < len(chars):
                for stop in range(min(len(chars), start + _LONGEST_TOKEN), start, -1):
                    token_id = self.ids.get(chars[start:stop])
                    if token_id is not None and token_id < self.first_special:
                        out.append(token_id)
                        start = stop
                        break
                else:
                    start += 1
        return out
