"""Rule-based English sentence splitting: one splitter for the whole tree.

Two users: the offline model server speaks a reply sentence by sentence, so
its first audio is ready after one short synthesis, not after the whole
reply; the agent API's `SentenceTokenizer` publishes each sentence of the
agent's speech as one final transcript (short ones merged, `min_sentence_len`).
A wrong split only costs a pause or a transcript break in the wrong place, so
the rules are simple: a sentence ends at ``.``, ``!``, ``?``
or ``…`` (with any closing quotes or brackets) followed by whitespace and then
something that is not a lowercase letter, or at a blank line. Decimal numbers
(``3.5``) never split because no whitespace follows the point; titles and
initials (``Dr. Smith``, ``J. R. R. Tolkien``, ``U.S. Navy``) don't either.
"""

from __future__ import annotations

import re

# Abbreviations followed by a name or number far more often than they end a
# sentence, matched case-sensitively ("No. 5" but "the answer is no. Then").
# Ones that often end sentences ("etc.", "Inc.") are left out on purpose.
_ABBREVIATIONS = frozenset({
    "Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Sr", "Jr", "Mt", "Ft", "Gen", "Col", "Capt", "Lt",
    "Sgt", "Rev", "Hon", "Gov", "Sen", "Rep", "Pres", "No", "Nos", "Fig", "Jan", "Feb", "Mar",
    "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "vs", "approx", "cf",
})  # fmt: skip
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")  # "J", "U.S", "e.g"
_BOUNDARY = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s)""")
_BLANK_LINE = re.compile(r"\n\s*\n")
_WORD_BEFORE = re.compile(r"([^\s\"'“‘(\[]*)$")


def _is_abbreviation(before_point: str) -> bool:
    """Whether the word ending right before a '.' is a title or initials."""
    match = _WORD_BEFORE.search(before_point)
    word = match.group(1) if match else ""
    if not word:
        return False
    return word in _ABBREVIATIONS or _INITIALS.fullmatch(word) is not None


def _split_paragraph(paragraph: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for boundary in _BOUNDARY.finditer(paragraph):
        rest = paragraph[boundary.end() :].lstrip()
        if rest and rest[0].islower():
            continue
        punctuation = boundary.group()
        if punctuation.rstrip("\"'”’)]") == "." and _is_abbreviation(
            paragraph[start : boundary.start()]
        ):
            continue
        sentences.append(paragraph[start : boundary.end()])
        start = boundary.end()
    sentences.append(paragraph[start:])
    return sentences


def split_sentences(text: str, *, min_sentence_len: int = 0) -> list[str]:
    """Sentences of `text`, whitespace-collapsed, in order; none of them empty.

    ``"Hello there. It is sunny in Paris!"`` gives
    ``["Hello there.", "It is sunny in Paris!"]``. With `min_sentence_len`,
    consecutive sentences shorter than that many characters are merged with the
    ones that follow until the merged sentence is long enough (a bare "Hi." is
    not a sentence of its own); a short tail stays separate.
    """
    sentences: list[str] = []
    pending = ""
    for paragraph in _BLANK_LINE.split(text):
        for sentence in _split_paragraph(paragraph):
            collapsed = " ".join(sentence.split())
            if not collapsed:
                continue
            pending = f"{pending} {collapsed}" if pending else collapsed
            if len(pending) >= min_sentence_len:
                sentences.append(pending)
                pending = ""
    if pending:
        sentences.append(pending)
    return sentences
