"""Rule-based English sentence splitting.

A sentence ends at `.`, `!`, `?` or an ellipsis followed by whitespace or the end of the
text (closing quotes and brackets stay with the sentence). A period does not end a sentence
after a title (`Dr.`), a Latin shorthand (`e.g.`) or an initial (`J. K.`); after an acronym
(`U.S.`), `etc.` or an ellipsis it does only when the next word is capitalised. Decimals
(`3.5`) never match because no whitespace follows their period.
"""

from __future__ import annotations

import re

# Group 1 is the terminator run, group 2 the closing quotes/brackets that belong to it.
_TERMINATOR = re.compile(r"([.!?…]+)([\"'”’)\]]*)(?=\s|$)")
_NEXT_CHAR = re.compile(r"\s*(\S?)")

# Abbreviations that are (almost) never the last word of a sentence.
_NEVER_FINAL = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "e.g", "i.e", "cf",
        "approx", "fig", "gen", "gov", "sgt", "capt", "lt", "col", "rev", "hon", "ft",
    }
)
# Abbreviations that end a sentence only when a capitalised word follows.
_FINAL_IF_CAPITAL = frozenset({"etc", "inc", "ltd", "co", "corp", "jan", "feb", "aug"})


def split_sentences(text: str, *, min_sentence_len: int = 20) -> list[str]:
    """The sentences of `text`, whitespace collapsed.

    Consecutive sentences shorter than `min_sentence_len` characters are merged with the
    ones that follow them until the merged sentence is long enough, so a bare "Hi." or
    "Okay." is not published as a sentence of its own; a short tail stays separate.
    """
    raw: list[str] = []
    start = 0
    for match in _TERMINATOR.finditer(text):
        if _ends_sentence(text, match):
            raw.append(text[start : match.end()])
            start = match.end()
    raw.append(text[start:])

    sentences: list[str] = []
    pending = ""
    for piece in raw:
        collapsed = " ".join(piece.split())
        if not collapsed:
            continue
        pending = f"{pending} {collapsed}" if pending else collapsed
        if len(pending) >= min_sentence_len:
            sentences.append(pending)
            pending = ""
    if pending:
        sentences.append(pending)
    return sentences


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    terminator = match.group(1)
    if "!" in terminator or "?" in terminator:
        return True
    following = _NEXT_CHAR.match(text, match.end())
    next_char = following.group(1) if following else ""
    capital_follows = not next_char or next_char.isupper() or not next_char.isalpha()
    if terminator != ".":  # an ellipsis, ".." or "…": a pause unless a new sentence starts
        return capital_follows
    word_start = match.start()
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start : match.start()].lstrip("\"'“‘([").lower()
    if word in _NEVER_FINAL:
        return False
    if len(word) == 1 and word.isalpha() and text[match.start() - 1].isupper():
        return False  # an initial, as in "J. K. Rowling"
    if word in _FINAL_IF_CAPITAL or "." in word:
        return capital_follows
    return True
