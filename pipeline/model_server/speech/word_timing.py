"""Where each written word starts in eSpeak's audio, from its word events.

eSpeak reports a word event per word it speaks, but not one per written word:
it fuses some function words ("on the" gets one event), speaks a number as
several words ("3.5" gets three), and places an event at the start of the pause
before its word. So: each written word takes its earliest event; a word with
none is placed by interpolating on character offsets between its neighbours;
an event in silence is moved to the first audible sample after it.
"""

from __future__ import annotations

import bisect
import re

import numpy as np
import numpy.typing as npt

from .espeak_lib import RawSpeech

# eSpeak's pauses are near-digital silence (|x| < 4); speech sounds, even
# fricatives, start well above this (-60 dBFS).
_AUDIBLE = 32
_TOKEN = re.compile(r"\S+")


def word_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of each word; a token with no letter or digit ("—") joins its neighbour."""
    spans: list[tuple[int, int]] = []
    leading_start: int | None = None  # punctuation-only tokens before the first word
    for token in _TOKEN.finditer(text):
        if any(c.isalnum() for c in token.group()):
            start = token.start() if leading_start is None else leading_start
            spans.append((start, token.end()))
            leading_start = None
        elif spans:
            spans[-1] = (spans[-1][0], token.end())
        elif leading_start is None:
            leading_start = token.start()
    if leading_start is not None:  # no word at all: the whole text is one "word"
        spans.append((leading_start, len(text)))
    return spans


def _first_audible(loud: npt.NDArray[np.bool_], start: int, stop: int) -> int:
    """First audible sample in [start, stop), else `start`."""
    window = loud[start:stop]
    return start + int(np.argmax(window)) if window.any() else start


def _last_audible(loud: npt.NDArray[np.bool_]) -> int:
    return loud.size - 1 - int(np.argmax(loud[::-1])) if loud.any() else 0


def word_starts(text: str, raw: RawSpeech) -> list[tuple[str, int]]:
    """(word, start sample at `raw.sample_rate`) for every word of `text`, non-decreasing."""
    spans = word_spans(text)
    if not spans:
        return []
    span_starts = [start for start, _ in spans]
    starts: list[int | None] = [None] * len(spans)
    for event in raw.words:
        index = max(bisect.bisect_right(span_starts, event.char_offset) - 1, 0)
        current = starts[index]
        starts[index] = event.sample if current is None else min(current, event.sample)

    loud = (raw.pcm >= _AUDIBLE) | (raw.pcm <= -_AUDIBLE)
    known = [(i, sample) for i, sample in enumerate(starts) if sample is not None]
    # An event may sit at the start of the pause before its word: move it to the
    # word's first sound, but never past the next word's event.
    stops = [sample for _, sample in known[1:]] + [loud.size]
    for (i, sample), stop in zip(known, stops, strict=True):
        starts[i] = _first_audible(loud, sample, stop)

    anchors = [(span_starts[i], sample) for i, sample in enumerate(starts) if sample is not None]
    if not known or known[0][0] != 0:
        anchors.insert(0, (0, _first_audible(loud, 0, loud.size)))
    if not known or known[-1][0] != len(spans) - 1:
        anchors.append((len(text), max(_last_audible(loud), anchors[-1][1])))
    chars, samples = zip(*anchors, strict=True)

    result: list[tuple[str, int]] = []
    previous = 0
    for (start, end), found in zip(spans, starts, strict=True):
        at = found if found is not None else round(float(np.interp(start, chars, samples)))
        previous = max(previous, at)
        result.append((text[start:end], previous))
    return result
