"""dsp: every microphone frame of every session passes here.

Per frame: downmix -> resample to the model's input rate (int16 in, int16 out)
-> re-chunk to ``chunk_ms`` chunks, each sent to the model stage and to playout
(the user channel of the recording); with a local VAD, 10 ms frames of the
resampled audio go through it too, and a speech onset flushes playout at once
(barge-in before the model has even heard the words). All per-sample work is in
``native`` (Cython, GIL released); buffers are allocated once per session,
never per frame.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any

from ipc.schema import (
    CaptureFrame,
    DataMsg,
    PlayoutFlush,
    SessionConfig,
    StreamEvent,
    UserAudio,
    data_encoder,
)
from native.chunker import Chunker
from native.convert import downmix_s16
from native.resample import Resampler
from native.vad import SPEECH_START, SPEECH_STOP, Vad
from pipeline.stages.runner import HotStage, run_stage

VAD_FRAME_MS = 10


@dataclass
class SessionDsp:
    """One session's signal chain state and its preallocated buffers."""

    cfg: SessionConfig
    in_rate: int
    in_channels: int
    resampler: Resampler | None
    chunker: Chunker
    mono: bytearray
    s16: bytearray
    chunk: bytearray
    vad: Vad | None
    vad_chunker: Chunker | None
    vad_frame: bytearray
    next_seq: int = -1  # capture seq expected next; -1 until the first frame
    chunk_seq: int = 0
    position: int = 0  # timeline sample (model rate) of the chunker's first sample
    vad_base: int = 0  # timeline sample of the VAD's first sample
    chunk_capture_ns: int = 0


def _frame_samples(rate: int, frame_ms: int) -> int:
    return rate * frame_ms // 1000


class DspStage(HotStage):
    name = "dsp"
    pushes_to = ("model", "playout")

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.chains: dict[str, SessionDsp] = {}

    def _build(self, cfg: SessionConfig, in_rate: int, in_channels: int) -> SessionDsp:
        frame_in = _frame_samples(in_rate, cfg.frame_ms)
        chunk_samples = cfg.model_rate * cfg.chunk_ms // 1000
        resampler = None
        frame_out = frame_in
        if in_rate != cfg.model_rate:
            resampler = Resampler(in_rate, cfg.model_rate)
            frame_out = resampler.max_output(frame_in)
        vad = vad_chunker = None
        vad_samples = cfg.model_rate * VAD_FRAME_MS // 1000
        if cfg.local_vad_min_speech_ms > 0:
            # 0 dB means "the kernel's default threshold".
            threshold: dict[str, Any] = {}
            if cfg.local_vad_threshold_db:
                threshold["threshold_db"] = cfg.local_vad_threshold_db
            vad = Vad(cfg.model_rate, VAD_FRAME_MS, min_speech_ms=cfg.local_vad_min_speech_ms,
                      min_silence_ms=cfg.silence_duration_ms,
                      prefix_padding_ms=cfg.prefix_padding_ms, **threshold)
            vad_chunker = Chunker(vad_samples, vad_samples * 50)
        return SessionDsp(
            cfg, in_rate, in_channels, resampler,
            Chunker(chunk_samples, chunk_samples * 50),
            bytearray(2 * frame_in), bytearray(2 * frame_out), bytearray(2 * chunk_samples),
            vad, vad_chunker, bytearray(2 * vad_samples),
        )

    def on_session_start(self, cfg: SessionConfig, resumed: bool) -> None:
        self.chains[cfg.session] = self._build(cfg, cfg.input_rate, cfg.input_channels)

    def on_session_end(self, session: str) -> None:
        self.chains.pop(session, None)

    def on_data(self, msg: DataMsg) -> None:
        if not isinstance(msg, CaptureFrame):
            self.stats.count("frames_dropped.unexpected_type")
            return
        chain = self.chains.get(msg.session)
        if chain is None:
            return
        if msg.sample_rate != chain.in_rate or msg.channels != chain.in_channels:
            # A transport may renegotiate its format mid-call: rebuild the chain.
            chain = self.chains[msg.session] = self._build(chain.cfg, msg.sample_rate,
                                                           msg.channels)
        now = time.monotonic_ns()
        self.stats.hop("capture_to_dsp").record_ns(now - msg.capture_ns)
        if msg.seq != chain.next_seq:
            chain = self._realign(chain, msg.seq)
        chain.next_seq = msg.seq + 1
        self._process(chain, msg)

    def _realign(self, chain: SessionDsp, seq: int) -> SessionDsp:
        """First frame, or frames lost upstream: restart the chain at ``seq``.

        A fresh resampler too: the old one still holds pre-gap input, which would
        shift everything after the gap late by its delay.
        """
        if chain.next_seq >= 0:
            self.stats.count("seq_gaps")
            self.stats.count("seq_gap_frames", max(0, seq - chain.next_seq))
            chunk_seq = chain.chunk_seq
            chain = self.chains[chain.cfg.session] = self._build(chain.cfg, chain.in_rate,
                                                                 chain.in_channels)
            chain.chunk_seq = chunk_seq
        cfg = chain.cfg
        chain.position = chain.vad_base = seq * _frame_samples(cfg.model_rate, cfg.frame_ms)
        return chain

    def _process(self, chain: SessionDsp, msg: CaptureFrame) -> None:
        pcm: bytes | bytearray | memoryview = msg.pcm
        n = len(pcm) // (2 * msg.channels)
        if n * 2 > len(chain.mono):
            self.stats.count("frames_dropped.too_long")
            return
        if msg.channels > 1:
            downmix_s16(pcm, msg.channels, chain.mono)
            pcm = memoryview(chain.mono)[: 2 * n]
        if chain.resampler is not None:
            m = chain.resampler.process_s16(memoryview(pcm)[: 2 * n], chain.s16)
            pcm = memoryview(chain.s16)[: 2 * m]
        if chain.vad is not None:
            self._detect(chain, pcm, msg.capture_ns)
        self._push(chain, pcm, msg.capture_ns)

    def _detect(self, chain: SessionDsp, pcm: bytes | bytearray | memoryview,
                capture_ns: int) -> None:
        """Local VAD on 10 ms frames of model-rate audio; an onset flushes playout."""
        assert chain.vad is not None and chain.vad_chunker is not None
        chain.vad_chunker.push(pcm)
        vad, rate = chain.vad, chain.cfg.model_rate
        while chain.vad_chunker.pop(chain.vad_frame):
            result = vad.process(chain.vad_frame)
            if result != SPEECH_START and result != SPEECH_STOP:
                continue
            # The onset on the wall clock: this frame's capture stamp minus the audio
            # between the onset sample and the end of what the VAD has seen.
            behind = vad.samples_seen - vad.event_sample + chain.vad_chunker.available
            onset_ns = capture_ns - behind * 1_000_000_000 // rate
            session = chain.cfg.session
            if result == SPEECH_START:
                self.stats.count("local_vad_onsets")
                self.send("playout", PlayoutFlush(session, "local_vad", onset_ns))
                kind = "local_speech_started"
            else:
                kind = "local_speech_stopped"
            self.send("playout", StreamEvent(session, kind, {
                "sample": chain.vad_base + vad.event_sample, "onset_ns": onset_ns},
                time.monotonic_ns()))

    def _push(self, chain: SessionDsp, pcm: bytes | bytearray | memoryview,
              capture_ns: int) -> None:
        if chain.chunker.available == 0:
            chain.chunk_capture_ns = capture_ns
        dropped = chain.chunker.push(pcm)
        if dropped:
            self.stats.count("samples_dropped.chunker", dropped)
        cfg = chain.cfg
        while chain.chunker.pop(chain.chunk):
            out = UserAudio(cfg.session, chain.chunk_seq, cfg.model_rate, bytes(chain.chunk),
                            chain.chunk_capture_ns, time.monotonic_ns(), chain.position)
            payload = data_encoder.encode(out)
            self.send_encoded("model", payload)
            self.send_encoded("playout", payload)
            chain.chunk_seq += 1
            chain.position += len(chain.chunk) // 2
            chain.chunk_capture_ns = capture_ns
            self.stats.count("chunks_out")


def main(argv: list[str] | None = None) -> int:
    return run_stage(DspStage, argv)


if __name__ == "__main__":
    sys.exit(main())
