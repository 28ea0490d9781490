"""Live transcription of one user turn: decode while the user speaks, off the event loop.

The server runs many sessions on one asyncio loop, and a decode is tens of
milliseconds of CPU, so all recognizer work runs in a shared executor. Audio
is queued in order; at most one job per turn is in the executor at a time and
it resamples and feeds everything queued so far at once (a backlog costs one
decode, not one per chunk). ``finish`` then only waits for the tail.

Deltas: whenever the hypothesis changes it is compared with the previous one and
the words both agree on (never the last, which may still be growing) are
*stable*; only stable text is passed to ``on_delta``, and the rest of the final
transcript at ``finish``. Recognizers keep agreed words fixed (Whisper forces
them as its decoder prefix), so the deltas concatenate to a prefix of the final.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from native.resample import Resampler

from ..protocol.wire import SAMPLE_RATE
from .stt import Recognizer, RecognizerStream

log = logging.getLogger(__name__)

# The first Resampler for a rate pair designs its filter (~135 ms measured), later ones reuse
# it; pay that at import (server start-up), not inside the first turn's loop callback.
Resampler(SAMPLE_RATE, 16_000)

__all__ = ["LiveTranscription", "extends", "stable_prefix"]


def extends(text: str, prefix: str) -> bool:
    """Whether ``text`` continues ``prefix`` at a word boundary ("Set a" does not extend "Se")."""
    return not prefix or text == prefix or text.startswith(prefix + " ")


def stable_prefix(previous: str, current: str) -> str:
    """The words two successive hypotheses share, leaving out ``current``'s last word."""
    agreed: list[str] = []
    for a, b in zip(previous.split(), current.split()[:-1], strict=False):
        if a != b:
            break
        agreed.append(a)
    return " ".join(agreed)


class LiveTranscription:
    """Decodes one user turn while it is spoken, without blocking the event loop."""

    def __init__(
        self,
        recognizer: Recognizer,
        *,
        hints: Sequence[str] = (),
        executor: concurrent.futures.Executor,
        on_delta: Callable[[str], None] | None = None,
    ) -> None:
        self._recognizer = recognizer
        self._hints = tuple(hints)
        self._stream: RecognizerStream | None = None  # opened by the first job: may be slow
        self._executor = executor
        self._on_delta = on_delta
        self._resampler = Resampler(SAMPLE_RATE, recognizer.sample_rate)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()  # guards the fields below, shared with the worker job
        self._queued: list[npt.NDArray[np.int16]] = []
        self._job_running = False
        self._finish_requested = False
        self._cancelled = False
        self._final: asyncio.Future[str] | None = None
        self._error: BaseException | None = None
        # Loop-thread state for deltas.
        self._last_partial = ""
        self._emitted = ""

    def feed(self, samples_24k: npt.NDArray[np.int16]) -> None:
        """Queue audio at the protocol's 24 kHz; returns at once."""
        if self._finish_requested or self._cancelled or samples_24k.size == 0:
            return
        # A copy, since callers may reuse their buffer. Resampling happens in the job: the
        # resampler releases the GIL, and every re-acquisition on the loop thread can wait
        # a whole switch interval (5 ms) behind a decode thread.
        self._enqueue(np.array(samples_24k, dtype=np.int16))

    async def finish(self) -> str:
        """Wait for the queued audio to be decoded; the final transcript."""
        if self._final is None:
            if self._cancelled:
                raise RuntimeError("finish() after cancel()")
            if self._error is not None:
                raise self._error
            self._loop = asyncio.get_running_loop()
            self._final = self._loop.create_future()
            with self._lock:
                self._finish_requested = True
                self._start_job_locked()
        return await self._final

    def cancel(self) -> None:
        """Drop queued audio and stop; no more deltas; a pending ``finish`` is cancelled."""
        with self._lock:
            self._cancelled = True
            self._queued.clear()
            self._start_job_locked()  # a job closes the stream (pooled decoders) off the loop
        if self._final is not None and not self._final.done():
            self._final.cancel()

    def _enqueue(self, pcm: npt.NDArray[np.int16]) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        with self._lock:
            self._queued.append(pcm)
            self._start_job_locked()

    def _start_job_locked(self) -> None:
        if not self._job_running:
            self._job_running = True
            self._executor.submit(self._drain)

    def _drain(self) -> None:
        """Executor job: feed everything queued, publish the partial, repeat until empty."""
        try:
            while True:
                with self._lock:
                    chunks, self._queued = self._queued, []
                    cancelled = self._cancelled
                    if not chunks and not cancelled and not self._finish_requested:
                        self._job_running = False
                        return
                if cancelled:
                    if self._stream is not None:
                        self._stream.close()
                    return
                stream = self._open_stream()
                if not chunks:
                    break
                stream.feed(self._resample(chunks))
                self._post(self._publish_partial, stream.partial())
            tail = np.empty(self._resampler.delay_samples, dtype=np.int16)
            stream.feed(tail[: self._resampler.flush_s16(tail)])
            text = stream.finish()
            self._post(self._resolve, text)
        except Exception as exc:  # a recognizer bug must not kill the pool thread silently
            log.exception("transcription failed")
            with self._lock:
                self._error = exc
            if self._stream is not None:
                self._stream.close()
            self._post(self._fail, exc)

    def _resample(self, chunks: list[npt.NDArray[np.int16]]) -> npt.NDArray[np.int16]:
        pcm = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
        out = np.empty(self._resampler.max_output(pcm.size), dtype=np.int16)
        return out[: self._resampler.process_s16(pcm, out)]

    def _open_stream(self) -> RecognizerStream:
        if self._stream is None:
            self._stream = self._recognizer.open_stream(self._hints)
        return self._stream

    def _post(self, callback: Callable[[object], None], arg: object) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(callback, arg)

    def _publish_partial(self, partial: object) -> None:
        assert isinstance(partial, str)
        if partial == self._last_partial:  # no new decode happened: not a second opinion
            return
        stable = stable_prefix(self._last_partial, partial)
        self._last_partial = partial
        if self._cancelled or stable == self._emitted or not extends(stable, self._emitted):
            return
        self._emit(stable)

    def _emit(self, text: str) -> None:
        """Emit ``text``'s growth beyond what was emitted (with the joining space)."""
        delta = text[len(self._emitted) :]
        if delta and self._on_delta is not None:
            self._on_delta(delta)
        self._emitted = text

    def _resolve(self, text: object) -> None:
        assert isinstance(text, str)
        if self._final is None or self._final.done():
            return
        if extends(text, self._emitted):
            self._emit(text)
        else:  # cannot unsay a delta; the final text still wins
            log.warning("final transcript %r does not extend deltas %r", text, self._emitted)
        self._final.set_result(text)

    def _fail(self, exc: object) -> None:
        assert isinstance(exc, BaseException)
        if self._final is not None and not self._final.done():
            self._final.set_exception(exc)
