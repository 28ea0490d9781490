"""The server process's speech machinery: one recognizer, one synthesizer, one thread pool.

Recognition and synthesis are CPU work off the event loop, in a small thread
pool shared by every session of the process (the machine has few cores; more
threads would only contend). The pool runs urgent work first: a turn's final
decode and reply synthesis are what the user waits for, while live partial
decodes only make deltas appear sooner (`SpeechExecutor`, `urgent`). The
recognizer is loaded once, on first use or by `preload` when the server starts
with the dialogue engine.

`SentenceSpeaker` speaks a reply one sentence at a time and keeps one sentence
of lookahead: sentence k+1 is synthesized while sentence k streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
import logging
import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

from native.resample import resample_s16

from .stt import Recognizer, load_recognizer
from .transcription import LiveTranscription
from .tts import (
    SAMPLE_RATE,
    VOICES,
    SpokenSentence,
    Synthesizer,
    WordMark,
    get_synthesizer,
    split_sentences,
)

log = logging.getLogger(__name__)

MAX_THREADS = 4
P = ParamSpec("P")
R = TypeVar("R")
_URGENT: contextvars.ContextVar[bool] = contextvars.ContextVar("speech_urgent", default=False)


@contextlib.contextmanager
def urgent() -> Iterator[None]:
    """Work submitted to a `SpeechExecutor` from inside this block runs before other work."""
    token = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(token)


class SpeechExecutor(Executor):
    """A fixed pool of daemon threads taking urgent jobs first, then in submission order."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._queue: list[tuple[int, int, Future[Any], Callable[[], Any]]] = []
        self._order = itertools.count()
        self._ready = threading.Condition()
        self._closed = False
        self.pending = 0
        """Jobs queued or running."""
        for i in range(threads):
            threading.Thread(target=self._work, name=f"voxpipe-speech-{i}", daemon=True).start()

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        """Queue `fn(*args, **kwargs)`; urgent (see `urgent`) jobs jump the queue."""
        future: Future[R] = Future()
        with self._ready:
            if self._closed:
                raise RuntimeError("cannot submit after shutdown")
            priority = 0 if _URGENT.get() else 1
            heapq.heappush(self._queue, (priority, next(self._order), future,
                                         lambda: fn(*args, **kwargs)))
            self.pending += 1
            self._ready.notify()
        return future

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                _, _, future, job = heapq.heappop(self._queue)
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(job())
                    except BaseException as exc:
                        future.set_exception(exc)
            finally:
                with self._ready:
                    self.pending -= 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new jobs (queued ones still run; the threads die with the process)."""
        with self._ready:
            self._closed = True


class SpeechRuntime:
    """Recognizer, synthesizer and the thread pool they run in."""

    def __init__(self, threads: int | None = None) -> None:
        self.executor = SpeechExecutor(threads or min(MAX_THREADS, os.cpu_count() or 1))
        self._lock = threading.Lock()
        self._recognizer: Recognizer | None = None

    def recognizer(self) -> Recognizer:
        """The process's recognizer (loaded on first call; blocking)."""
        with self._lock:
            if self._recognizer is None:
                self._recognizer = load_recognizer()
            return self._recognizer

    def synthesizer(self) -> Synthesizer:
        """The process's synthesizer."""
        return get_synthesizer()

    def preload(self) -> None:
        """Load the models and run each once now (blocking), so no session pays for it."""
        said = self.synthesizer().speak("Hello, I am ready.")
        recognizer = self.recognizer()
        # The first decode of a process is several times slower (allocation, caches).
        speech = resample_s16(said.audio.tobytes(), SAMPLE_RATE, recognizer.sample_rate)
        stream = recognizer.open_stream()
        try:
            stream.feed(np.frombuffer(speech, dtype=np.int16))
            stream.finish()
        except Exception:  # a warm-up failure only costs the first turn some latency
            log.warning("recognizer warm-up failed", exc_info=True)
            stream.close()

    def live_transcription(
        self, hints: list[str], on_delta: Callable[[str], None]
    ) -> LiveTranscription:
        """A decode that runs while audio is fed (see `transcription.LiveTranscription`)."""
        return LiveTranscription(
            self.recognizer(), hints=hints, executor=self.executor, on_delta=on_delta
        )

    async def speak(self, sentence: str, voice: str) -> SpokenSentence:
        """`sentence` as 24 kHz speech with word marks; unknown voices speak as the first."""
        name = voice if voice in VOICES else VOICES[0]
        with urgent():
            return await self.synthesizer().speak_async(sentence, name, executor=self.executor)

    @property
    def backlogged(self) -> bool:
        """True while more jobs wait than there are threads to run them."""
        return self.executor.pending >= self.executor.threads


_shared: SpeechRuntime | None = None
_shared_lock = threading.Lock()


def shared_runtime() -> SpeechRuntime:
    """The process's `SpeechRuntime` (created on first call, models still unloaded)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SpeechRuntime()
        return _shared


def prerecorded(text: str, audio: npt.NDArray[np.int16]) -> SpokenSentence:
    """Ready-made audio as one spoken sentence, its words spread evenly over it."""
    words = text.split()
    step = audio.size / max(1, len(words))
    marks = tuple(WordMark(w, int(i * step)) for i, w in enumerate(words))
    return SpokenSentence(text=" ".join(words), audio=audio, words=marks)


class SentenceSpeaker:
    """Speaks `text` sentence by sentence, one synthesis ahead of the consumer."""

    def __init__(self, text: str, speak: Callable[[str], Awaitable[SpokenSentence]]) -> None:
        self._sentences = deque(split_sentences(text))
        self._speak = speak
        self._ahead: asyncio.Future[SpokenSentence] | None = None

    def _start_next(self) -> None:
        if self._sentences:
            self._ahead = asyncio.ensure_future(self._speak(self._sentences.popleft()))
        else:
            self._ahead = None

    async def next(self) -> SpokenSentence | None:
        """The next sentence's speech (None after the last); starts synthesizing the one after."""
        if self._ahead is None:
            self._start_next()
        current = self._ahead
        if current is None:
            return None
        sentence = await current
        self._start_next()
        return sentence

    def cancel(self) -> None:
        """Drop the lookahead synthesis (its thread finishes; the result is discarded)."""
        if self._ahead is not None:
            self._ahead.cancel()
            self._ahead = None
        self._sentences.clear()
