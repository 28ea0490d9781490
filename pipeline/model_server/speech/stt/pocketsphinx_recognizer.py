"""CMU PocketSphinx with the US English model shipped in the ``pocketsphinx`` wheel.

A true streaming decoder: audio is searched as it arrives, so ``finish`` only
closes the utterance. It is far less accurate than Whisper on our requests
(see ``benchmarks/stt.py``) and kept as a light, fast option. A
``pocketsphinx.Decoder`` is not thread-safe and costs ~0.5 s and tens of MB to
build, so decoders live in a pool: a stream borrows one and returns it at
``finish``. Hints are not used: the bundled trigram LM already holds common
words, and rescoring it per session would cost a decoder rebuild.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pocketsphinx import Decoder

SAMPLE_RATE = 16_000


class PocketSphinxRecognizer:
    """Decoders are built on demand and reused; the pool never shrinks."""

    sample_rate = SAMPLE_RATE

    def __init__(self, name: str) -> None:
        self.name = name
        self._idle: list[Decoder] = [self._new_decoder()]
        self._lock = threading.Lock()

    @staticmethod
    def _new_decoder() -> Decoder:
        return Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")

    def open_stream(self, hints: Sequence[str] = ()) -> PocketSphinxStream:
        with self._lock:
            decoder = self._idle.pop() if self._idle else None
        return PocketSphinxStream(self, decoder or self._new_decoder())

    def _give_back(self, decoder: Decoder) -> None:
        with self._lock:
            self._idle.append(decoder)


class PocketSphinxStream:
    """One utterance on a borrowed decoder; not thread-safe."""

    def __init__(self, recognizer: PocketSphinxRecognizer, decoder: Decoder) -> None:
        self._recognizer = recognizer
        self._decoder: Decoder | None = decoder
        # Live CMN carries its estimate over from the decoder's previous utterance; reset
        # the front end (0.1 ms) so a result does not depend on which decoder ran before.
        decoder.reinit_feat()
        decoder.start_utt()

    def feed(self, pcm: npt.NDArray[np.int16]) -> None:
        if self._decoder is None:
            raise RuntimeError("feed() after finish()")
        self._decoder.process_raw(np.ascontiguousarray(pcm, dtype="<i2").tobytes(), False, False)

    def partial(self) -> str:
        hyp = self._decoder.hyp() if self._decoder is not None else None
        return " ".join(hyp.hypstr.split()) if hyp is not None else ""

    def finish(self) -> str:
        if self._decoder is None:
            raise RuntimeError("finish() called twice")
        decoder, self._decoder = self._decoder, None
        try:
            decoder.end_utt()
            hyp = decoder.hyp()
            return " ".join(hyp.hypstr.split()) if hyp is not None else ""
        finally:
            self._recognizer._give_back(decoder)

    def close(self) -> None:
        if self._decoder is not None:
            decoder, self._decoder = self._decoder, None
            decoder.end_utt()
            self._recognizer._give_back(decoder)
