"""Offline speech for the local model server: a sentence in, 24 kHz pcm16 and word timing out.

eSpeak NG (`espeak_lib`) speaks at 22.05 kHz; voxpipe's resampler takes that to
the protocol's 24 kHz. Each word of the sentence gets the output sample where
eSpeak starts saying it, so the reply engine can send
`response.output_audio_transcript.delta` in step with the audio.

A sentence takes a few milliseconds of CPU (eSpeak is a formant synthesizer),
so replies are spoken one sentence at a time (`split_sentences`) and the first
audio is ready almost at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from native.resample import resample_s16
from pipeline.language.sentences import split_sentences

from .espeak_lib import RATE_WPM_MAX, RATE_WPM_MIN, RawSpeech, open_espeak
from .word_timing import word_starts

__all__ = [
    "SAMPLE_RATE",
    "VOICES",
    "SpokenSentence",
    "Synthesizer",
    "WordMark",
    "get_synthesizer",
    "split_sentences",
]

SAMPLE_RATE = 24000


@dataclass(frozen=True)
class WordMark:
    """Where a word starts in its sentence's audio."""

    text: str
    """The word as written, with its punctuation ("Paris!")."""
    start_sample: int
    """Sample index at 24 kHz within `SpokenSentence.audio`."""


@dataclass(frozen=True)
class SpokenSentence:
    """A synthesized sentence: its audio and where each word starts."""

    text: str
    """The sentence as spoken: whitespace-collapsed; equals ``" ".join(w.text for w in words)``."""
    audio: npt.NDArray[np.int16]
    """24 kHz mono, read-only, ending with eSpeak's sentence pause."""
    words: tuple[WordMark, ...]
    """Every word of `text`, in order, with non-decreasing `start_sample`."""


@dataclass(frozen=True)
class _EspeakVoice:
    name: str  # espeak language voice + variant
    pitch: int  # 0-100, 50 = the variant's normal
    pitch_range: int  # 0-100, 50 = normal intonation


# OpenAI's voice names mapped to distinct espeak voice/variant/pitch triples,
# loosely after each OpenAI voice's register; `f*`/`m*` are espeak's variants.
_VOICES: dict[str, _EspeakVoice] = {
    "alloy": _EspeakVoice("en-us+f2", 50, 50),
    "ash": _EspeakVoice("en-us+m1", 42, 45),
    "ballad": _EspeakVoice("en-gb-x-rp+m3", 48, 60),
    "coral": _EspeakVoice("en-us+f3", 58, 60),
    "echo": _EspeakVoice("en-us+m3", 38, 40),
    "sage": _EspeakVoice("en+f4", 52, 45),
    "shimmer": _EspeakVoice("en-us+f5", 64, 55),
    "verse": _EspeakVoice("en-us+m7", 50, 65),
    "marin": _EspeakVoice("en-us+f1", 55, 50),
    "cedar": _EspeakVoice("en-us+m2", 30, 45),
}
VOICES: tuple[str, ...] = tuple(_VOICES)


def _word_marks(text: str, raw: RawSpeech, n_output: int) -> tuple[WordMark, ...]:
    """Word starts moved from eSpeak's rate to the output's (the resampler keeps alignment)."""
    last_sample = max(n_output - 1, 0)
    return tuple(
        WordMark(word, min(round(sample * SAMPLE_RATE / raw.sample_rate), last_sample))
        for word, sample in word_starts(text, raw)
    )


def _to_output_rate(pcm: npt.NDArray[np.int16], rate: int) -> npt.NDArray[np.int16]:
    """Resample to 24 kHz, delay-trimmed so sample k of the output is input time k / 24000."""
    if rate == SAMPLE_RATE:
        return pcm
    return np.frombuffer(resample_s16(pcm, rate, SAMPLE_RATE), dtype=np.int16)


def _voice(voice: str) -> _EspeakVoice:
    try:
        return _VOICES[voice]
    except KeyError:
        raise ValueError(f"unknown voice {voice!r}; voices: {', '.join(VOICES)}") from None


class Synthesizer:
    """Speaks sentences with eSpeak NG; one eSpeak synthesis at a time per process."""

    def __init__(self, *, rate_wpm: int = 175) -> None:
        """`rate_wpm`: speaking rate in words per minute (eSpeak accepts 80-450)."""
        if not RATE_WPM_MIN <= rate_wpm <= RATE_WPM_MAX:
            raise ValueError(f"rate_wpm {rate_wpm} outside {RATE_WPM_MIN}-{RATE_WPM_MAX}")
        self.rate_wpm = rate_wpm
        self._espeak = open_espeak()
        # The first synthesis loads the English dictionary (~20 ms): pay it here,
        # not in the first reply.
        self.speak("Ready.")

    def speak(self, sentence: str, voice: str = "alloy") -> SpokenSentence:
        """Synthesize one sentence (blocking CPU work; thread-safe).

        Raises ValueError for a voice not in `VOICES`.
        """
        espeak_voice = _voice(voice)
        text = " ".join(sentence.split())
        if not text:
            return SpokenSentence(text="", audio=np.zeros(0, dtype=np.int16), words=())
        raw = self._espeak.synthesize(
            text,
            voice=espeak_voice.name,
            rate_wpm=self.rate_wpm,
            pitch=espeak_voice.pitch,
            pitch_range=espeak_voice.pitch_range,
        )
        audio = _to_output_rate(raw.pcm, raw.sample_rate)
        return SpokenSentence(text=text, audio=audio, words=_word_marks(text, raw, audio.size))

    async def speak_async(
        self,
        sentence: str,
        voice: str = "alloy",
        *,
        executor: concurrent.futures.Executor | None = None,
    ) -> SpokenSentence:
        """`speak` in `executor` (the loop's default if None), leaving the event loop free."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(self.speak, sentence, voice))


_synthesizer: Synthesizer | None = None
_synthesizer_lock = threading.Lock()


def get_synthesizer() -> Synthesizer:
    """The process's synthesizer (eSpeak is loaded and warmed up on first call, ~30 ms)."""
    global _synthesizer
    with _synthesizer_lock:
        if _synthesizer is None:
            _synthesizer = Synthesizer()
        return _synthesizer
