"""Which words of the agent's transcript the user has heard by now.

Pure logic, no I/O and no clock: it is fed the transcript deltas and the audio sample
counts as they arrive from the model, and the number of samples actually played, and it
releases words no earlier than their audio plays.

Each word gets a release position in samples:

    start[i] = max(arrival[i], start[i-1] + hyphens[i-1] * samples_per_hyphen)

`arrival[i]` is how much audio had been received when the word's first character arrived
(a model that sends its transcript in step with its audio, as voxpipe's offline server
does, pins every word to its audio this way), and the hyphen term paces words that arrived
ahead of their audio (OpenAI sends the transcript well before the audio): with every
arrival at 0 it is the cumulative hyphen count before the word times samples-per-hyphen.
Until the whole text and audio are known, samples-per-hyphen comes from a standard
speaking rate (3.83 hyphens/s, as livekit's forwarder) divided by `speed`; then it is
re-fitted: the largest value that still ends the last word inside the audio, which for a
transcript sent ahead of the audio is the response's real rate (audio length / hyphens).

Sentences come from the sentence tokenizer; one is published as final once it is complete
(more text follows it, or the text is done) and its last word has been played. Once text
and audio are done and all the audio has played, whatever is left is released at once
(zero-length audio therefore releases the whole text on the first `advance`).
"""

from __future__ import annotations

import math
import secrets
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.agents.tokenize.tokenizer import PUNCTUATION, SentenceTokenizer, WordTokenizer

STANDARD_SPEECH_RATE = 3.83
"""Hyphens per second of typical synthesized speech at speed 1.0."""

_PUNCTUATION = "".join(PUNCTUATION)


@dataclass(frozen=True)
class TranscriptSegment:
    """One transcription update: a sentence so far (interim) or whole (final)."""

    id: str
    text: str
    final: bool


@dataclass(frozen=True)
class _Word:
    text: str
    hyphens: int
    arrival: int  # samples received when the word's first character arrived


@dataclass(frozen=True)
class _Sentence:
    text: str
    first_word: int  # index into the word list
    end_word: int  # one past its last word
    complete: bool  # text follows it, or the text is done


@dataclass(frozen=True)
class _Layout:
    words: list[_Word]
    sentences: list[_Sentence]


class TranscriptSync:
    """Releases an agent response's transcript words as their audio is played."""

    def __init__(
        self,
        *,
        sample_rate: int = 24000,
        speed: float = 1.0,
        sentence_tokenizer: SentenceTokenizer,
        word_tokenizer: WordTokenizer,
        hyphenate_word: Callable[[str], list[str]],
    ) -> None:
        if not speed > 0 or math.isinf(speed):
            raise ValueError(f"agent_transcription_speed must be a number > 0, got {speed}")
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
        self._sentence_tokenizer = sentence_tokenizer
        self._word_tokenizer = word_tokenizer
        self._hyphenate_word = hyphenate_word
        self._estimated_samples_per_hyphen = sample_rate / (STANDARD_SPEECH_RATE * speed)
        self._text = ""
        self._delta_offsets: list[int] = []  # where each delta starts in _text
        self._delta_arrivals: list[int] = []  # samples received when it arrived
        self._received = 0
        self._played = 0
        self._text_done = False
        self._audio_done = False
        self._layout: _Layout | None = None  # tokenized _text, rebuilt when text changes
        self._released: list[float] = []  # release position of each released word, frozen
        self._released_words: list[str] = []
        self._finals = 0  # sentences published as final
        self._segment_ids: list[str] = []
        self._hyphen_counts: dict[str, int] = {}  # the text is re-tokenized on every delta

    # -- inputs ----------------------------------------------------------------------

    def push_text(self, delta: str) -> None:
        """A transcript delta, arriving now (after `push_audio` of the audio so far).

        Text after `mark_text_done` is ignored: the sentences already published as final
        must not change under the listener.
        """
        if not delta or self._text_done:
            return
        self._delta_offsets.append(len(self._text))
        self._delta_arrivals.append(self._received)
        self._text += delta
        self._layout = None

    def push_audio(self, samples: int) -> None:
        """`samples` more samples of the response's audio received (not yet played)."""
        if samples < 0:
            raise ValueError(f"samples must be >= 0, got {samples}")
        if not self._audio_done:
            self._received += samples

    def mark_text_done(self) -> None:
        """No more transcript text will come."""
        if not self._text_done:
            self._text_done = True
            self._layout = None

    def mark_audio_done(self) -> None:
        """No more audio will come."""
        self._audio_done = True

    # -- outputs ---------------------------------------------------------------------

    @property
    def played_text(self) -> str:
        """The words released so far, space-joined: what the user has heard."""
        return " ".join(self._released_words)

    @property
    def complete(self) -> bool:
        """Everything is known, released, and every sentence was published as final."""
        layout = self._current_layout()
        return (
            self._text_done
            and self._audio_done
            and len(self._released) == len(layout.words)
            and self._finals == len(layout.sentences)
        )

    def word_start_samples(self) -> list[int]:
        """The release position of each (complete) word so far, in samples."""
        return [_to_sample(start) for start in self._starts(self._current_layout())]

    def advance(self, played_samples: int) -> list[TranscriptSegment]:
        """Playout has reached `played_samples`; the segments to publish, in order.

        Each touched sentence yields one segment: final if it finished, otherwise an
        interim one with its words released so far (trailing punctuation trimmed).
        """
        if played_samples < 0:
            raise ValueError(f"played_samples must be >= 0, got {played_samples}")
        self._played = max(self._played, played_samples)
        layout = self._current_layout()
        starts = self._starts(layout)
        sph = self._samples_per_hyphen(layout)
        # Everything has played: release whatever is left, as a playout-finished catch-up.
        everything = self._text_done and self._audio_done and self._played >= self._received
        segments: list[TranscriptSegment] = []
        while self._finals < len(layout.sentences):
            sentence = layout.sentences[self._finals]
            released_before = len(self._released)
            while len(self._released) < sentence.end_word:
                index = len(self._released)
                if not (everything or _to_sample(starts[index]) <= self._played):
                    break
                # A catch-up release counts as played now (positions fit the audio anyway).
                self._released.append(min(starts[index], float(self._played)))
                self._released_words.append(layout.words[index].text)
            segment_id = self._segment_id(self._finals)
            if sentence.complete and len(self._released) >= sentence.end_word:
                last = sentence.end_word - 1
                end = starts[last] + layout.words[last].hyphens * sph if last >= 0 else 0.0
                if self._audio_done:
                    end = min(end, self._received)
                if everything or self._played >= _to_sample(end):
                    if sentence.end_word > sentence.first_word:
                        segments.append(TranscriptSegment(segment_id, sentence.text, True))
                    self._finals += 1
                    continue
            if len(self._released) > released_before:
                words = self._released_words[sentence.first_word :]
                text = self._word_tokenizer.format_words(words).rstrip(_PUNCTUATION)
                if text:
                    segments.append(TranscriptSegment(segment_id, text, False))
            break
        return segments

    # -- internals -------------------------------------------------------------------

    def _segment_id(self, sentence_index: int) -> str:
        while len(self._segment_ids) <= sentence_index:
            self._segment_ids.append(f"SG_{secrets.token_hex(6)}")
        return self._segment_ids[sentence_index]

    def _current_layout(self) -> _Layout:
        if self._layout is None:
            self._layout = self._tokenize()
        return self._layout

    def _tokenize(self) -> _Layout:
        texts = self._sentence_tokenizer.tokenize(self._text)
        words: list[_Word] = []
        sentences: list[_Sentence] = []
        cursor = 0
        for index, text in enumerate(texts):
            first = len(words)
            for token in self._word_tokenizer.tokenize(text):
                offset, cursor = self._locate(token, cursor)
                words.append(_Word(token, self._hyphens(token), self._arrival(offset)))
            complete = self._text_done or index < len(texts) - 1
            sentences.append(_Sentence(text, first, len(words), complete))
        cut_short = not self._text_done and self._text and not self._text[-1].isspace()
        if cut_short and sentences and sentences[-1].end_word > sentences[-1].first_word:
            # The last word may continue in the next delta: hold it back until it ends.
            words.pop()
            last = sentences[-1]
            sentences[-1] = _Sentence(last.text, last.first_word, len(words), False)
        # Words released under an earlier tokenization keep their place (robustness only).
        if len(words) < len(self._released):
            words = words + [_Word(w, 1, 0) for w in self._released_words[len(words) :]]
        return _Layout(words, sentences)

    def _hyphens(self, word: str) -> int:
        count = self._hyphen_counts.get(word)
        if count is None:
            count = max(1, len(self._hyphenate_word(word)))  # no word takes zero time
            self._hyphen_counts[word] = count
        return count

    def _locate(self, token: str, cursor: int) -> tuple[int, int]:
        """(offset of `token` in the text, cursor after it), searching from `cursor`."""
        text = self._text
        start = cursor
        while start < len(text) and text[start].isspace():
            start += 1
        end = start
        while end < len(text) and not text[end].isspace():
            end += 1
        inside = text.find(token, start, end)
        if inside < 0:
            inside = text.find(token, start)  # the tokenizer dropped a token in between
        if inside < 0:
            return start, end  # the tokenizer rewrote the word: use the raw token's place
        return inside, inside + len(token)

    def _arrival(self, offset: int) -> int:
        index = bisect_right(self._delta_offsets, offset) - 1
        return self._delta_arrivals[max(index, 0)] if self._delta_arrivals else 0

    def _samples_per_hyphen(self, layout: _Layout) -> float:
        pending = range(len(self._released), len(layout.words))
        if not (self._text_done and self._audio_done) or not layout.words:
            return self._estimated_samples_per_hyphen
        # start[last] + hyphens[last] * s <= audio length, where start[last] is the largest
        # of (anchor + hyphens from anchor to the end * s) over its possible anchors: the
        # arrival of each pending word and the position of the last released word.
        total = sum(word.hyphens for word in layout.words)
        before = sum(word.hyphens for word in layout.words[: pending.start])
        anchors: list[tuple[float, int]] = []
        if self._released:
            last_hyphens = layout.words[pending.start - 1].hyphens
            anchors.append((self._released[-1], total - before + last_hyphens))
        for index in pending:
            anchors.append((layout.words[index].arrival, total - before))
            before += layout.words[index].hyphens
        return max(0.0, min((self._received - at) / hyphens for at, hyphens in anchors))

    def _starts(self, layout: _Layout) -> list[float]:
        sph = self._samples_per_hyphen(layout)
        starts: list[float] = []
        earliest = 0.0
        for index, word in enumerate(layout.words):
            if index < len(self._released):
                start = self._released[index]
            else:
                start = max(float(word.arrival), earliest)
            starts.append(start)
            earliest = start + word.hyphens * sph
        return starts


def _to_sample(position: float) -> int:
    """The first sample at or after `position`; 1e-6 absorbs float noise at a boundary."""
    return math.ceil(position - 1e-6)
