"""English syllable splitting for transcript pacing (a heuristic, not a dictionary).

Syllable nuclei are vowel groups (`y` counts as a vowel unless it starts the word or a
vowel follows it; `u` after `q` is a consonant). Groups are then corrected for the
common English cases: a silent final `e` (but `-ble` keeps its syllable), silent `-es` /
`-ed` endings, vowel pairs spoken as two syllables (`ra-di-o`, `i-de-a`, `go-ing`), and
compounds whose first part ends in a silent `e` (`some-thing`, `care-ful`). Pieces are
cut between nuclei: before a single consonant (`ho-tel`), after the first of a cluster
(`bas-ket`), keeping digraphs and blends with the next syllable (`mo-ther`, `ta-ble`).

The agent transcription only needs a syllable *count* per word (a duration estimate);
the cut positions are a best effort.
"""

from __future__ import annotations

import re
from itertools import pairwise

_VOWELS = frozenset("aeiou")
_ONSETS = frozenset(
    {"ch", "sh", "th", "ph", "wh", "bl", "cl", "fl", "gl", "pl", "br", "cr", "dr", "fr", "gr",
     "pr", "tr"}
)
# Pairs that stay one syllable when they follow these letters: na-tion, spe-cial, lan-guage.
_PALATAL = frozenset("ctsxg")
# First parts of compounds that end in a silent "e": some-thing, care-ful, love-ly.
_SILENT_E_STEMS = (
    "some", "home", "where", "there", "here", "care", "life", "time", "fire", "face",
    "side", "love", "like", "make", "note", "name", "base", "line", "take", "whole", "more",
)
# Too irregular for the rules above; count-only, cut by hand.
_EXCEPTIONS = {"people": ("peo", "ple"), "every": ("ev", "ery"), "business": ("busi", "ness")}
_EDGE = re.compile(r"^([^A-Za-z0-9]*)(.*?)([^A-Za-z0-9]*)$", re.DOTALL)


def hyphenate_word(word: str) -> list[str]:
    """Split `word` into its syllables; the pieces concatenate back to `word`.

    Leading and trailing punctuation stays attached to the first and last piece, parts of
    a hyphenated compound are split separately, and a word with no letters (a number, a
    symbol) is one piece.
    """
    match = _EDGE.match(word)
    assert match is not None  # the pattern matches any string
    lead, core, trail = match.groups()
    if not core:
        return [word] if word else []
    pieces: list[str] = []
    for part in re.split(r"(?<=-)", core):
        pieces.extend(_split_part(part))
    pieces[0] = lead + pieces[0]
    pieces[-1] += trail
    return pieces


def _split_part(part: str) -> list[str]:
    lower = part.lower()
    stem = lower.rstrip("-")
    if stem in _EXCEPTIONS:
        cuts, at = [], 0
        for piece in _EXCEPTIONS[stem][:-1]:
            at += len(piece)
            cuts.append(at)
        return _cut(part, cuts)
    for prefix in _SILENT_E_STEMS:
        if stem.startswith(prefix) and _nuclei(stem[len(prefix) :]):
            rest = _split_part(part[len(prefix) :])
            return [part[: len(prefix)], *rest]
    nuclei = _nuclei(lower)
    if len(nuclei) <= 1:
        return [part]
    cuts = [_cut_between(lower, left[1], right[0]) for left, right in pairwise(nuclei)]
    return _cut(part, cuts)


def _cut(part: str, cuts: list[int]) -> list[str]:
    bounds = [0, *cuts, len(part)]
    return [part[a:b] for a, b in pairwise(bounds) if b > a]


def _is_vowel(word: str, i: int) -> bool:
    c = word[i]
    if c == "y":
        return i > 0 and not (i + 1 < len(word) and word[i + 1] in _VOWELS)
    if c == "u" and i > 0 and word[i - 1] == "q":
        return False
    return c in _VOWELS


def _nuclei(word: str) -> list[tuple[int, int]]:
    """[start, end) of each syllable nucleus of a lowercase word."""
    groups: list[tuple[int, int]] = []
    i = 0
    while i < len(word):
        if not _is_vowel(word, i):
            i += 1
            continue
        start = i
        while i < len(word) and _is_vowel(word, i):
            i += 1
        groups.extend(_split_hiatus(word, start, i))
    if len(groups) > 1 and _is_silent_ending(word, groups[-1]):
        groups.pop()
    return groups


def _split_hiatus(word: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a vowel group where its letters belong to two syllables."""
    before = word[start - 1] if start > 0 else ""
    after = word[end:]
    for i in range(start, end - 1):
        pair = word[i : i + 2]
        second = i + 1
        if (
            (pair[0] == "i" and pair[1] in "aou" and before not in _PALATAL)
            or (pair[0] == "u" and pair[1] in "ao" and before not in "gq")
            or (pair == "eo" and before != "p")
            or (pair == "ea" and (after == "" or after.startswith("te")))
            or (pair in ("oe", "ie") and after.startswith("t"))
            or (pair[1] == "i" and after.startswith("ng"))
        ):
            return [(start, second), *_split_hiatus(word, second, end)]
    return [(start, end)]


def _is_silent_ending(word: str, nucleus: tuple[int, int]) -> bool:
    start, end = nucleus
    if word[start:end] != "e":
        return False
    tail = word[end:]
    before = word[start - 1] if start > 0 else ""
    if tail == "":
        # "-le" after a consonant is a syllable of its own (ta-ble, lit-tle).
        return not (before == "l" and start >= 2 and word[start - 2] not in _VOWELS)
    if tail == "s":
        return before not in "sxzcg" and not word[: start].endswith(("ch", "sh"))
    if tail == "d":
        # hun-dred: after consonant + "r" the "e" is voiced, unlike an-swered or played.
        consonant_r = before == "r" and start >= 2 and word[start - 2] not in _VOWELS
        return before not in "td" and not consonant_r
    return False


def _cut_between(word: str, left_end: int, right_start: int) -> int:
    """Where to cut between two nuclei, given the consonants in word[left_end:right_start]."""
    cluster = word[left_end:right_start]
    if len(cluster) == 0:
        return right_start
    if len(cluster) == 1:
        return left_end + 1 if cluster == "x" else left_end
    if cluster[-2:] in _ONSETS:
        return right_start - 2
    return left_end + 1
