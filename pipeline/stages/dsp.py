"""dsp: every microphone frame of every session passes here.

Per frame: downmix -> resample to the model's input rate (int16 in, int16 out)
-> re-chunk to ``chunk_ms`` chunks, each sent to the model stage and to playout
(the user channel of the recording); with a local VAD, 10 ms frames of the
resampled audio go through it too, and a speech onset flushes playout at once
(barge-in before the model has even heard the words). All of it is one call to
``native.inbound_chain.InboundChain`` per frame: one GIL release for the whole
chain (separate kernel calls each paid a GIL hand-off, which with other threads
contending cost more than the ~3 us of work). Buffers are allocated once per
session, never per frame.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

from ipc.schema import (
    DEFAULT_MODEL_RATE,
    CaptureFrame,
    DataMsg,
    FileTransport,
    LocalSpeechStarted,
    LocalSpeechStopped,
    PlayoutFlush,
    SessionConfig,
    StreamEvent,
    TurnDetection,
    UserAudio,
    data_encoder,
)
from native.inbound_chain import SPEECH_START, InboundChain
from native.resample import SUPPORTED_RATES, Resampler
from pipeline.stages.runner import HotStage, run_stage


@dataclass
class SessionDsp:
    """One session's signal chain and its preallocated chunk buffer."""

    cfg: SessionConfig
    in_rate: int
    in_channels: int
    inbound: InboundChain
    chunk: bytearray
    max_bytes: int  # most input one call takes
    next_seq: int = -1  # capture seq expected next; -1 until the first frame
    chunk_seq: int = 0
    position: int = 0  # timeline sample (model rate) of the chain's first buffered sample
    vad_base: int = 0  # timeline sample of the chain's first output sample
    chunk_capture_ns: int = 0
    dropped: int = 0  # the chain's dropped_samples already counted


def _frame_samples(rate: int, frame_ms: int) -> int:
    return rate * frame_ms // 1000


class DspStage(HotStage):
    name = "dsp"
    pushes_to = ("model", "playout")

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.chains: dict[str, SessionDsp] = {}
        # A rate pair's filter is designed once per process (10-100 ms each): do it for
        # every input rate to the default model rate now, before serving, rather than in
        # the loop when a caller with a new rate joins and every session would wait.
        for rate in SUPPORTED_RATES:
            if rate != DEFAULT_MODEL_RATE:
                Resampler(rate, DEFAULT_MODEL_RATE)

    def _build(self, cfg: SessionConfig, in_rate: int, in_channels: int) -> SessionDsp:
        vad = cfg.local_vad_min_speech_ms > 0
        # The local VAD ends and pads a turn as the model's turn detection does.
        turns = cfg.model.settings.turn_detection or TurnDetection()
        inbound = InboundChain(
            in_rate, cfg.model_rate, in_channels=in_channels, frame_ms=cfg.frame_ms,
            chunk_ms=cfg.chunk_ms, vad=vad, vad_min_speech_ms=cfg.local_vad_min_speech_ms,
            vad_min_silence_ms=turns.silence_duration_ms,
            vad_prefix_padding_ms=turns.prefix_padding_ms,
            # 0 dB means "the kernel's default threshold".
            vad_threshold_db=cfg.local_vad_threshold_db or None)
        return SessionDsp(cfg, in_rate, in_channels, inbound,
                          bytearray(2 * inbound.chunk_samples),
                          inbound.frame_bytes * inbound.max_input_frames)

    def on_session_start(self, cfg: SessionConfig, resumed: bool) -> None:
        src = cfg.transport
        # A live connection's format is known only from its frames: the chain is
        # rebuilt on the first one that differs (as on a mid-call renegotiation).
        rate, channels = ((src.input_rate, src.input_channels) if isinstance(src, FileTransport)
                          else (cfg.model_rate, 1))
        self.chains[cfg.session] = self._build(cfg, rate, channels)

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
        inbound, pcm = chain.inbound, msg.pcm
        if len(pcm) % inbound.frame_bytes or len(pcm) > chain.max_bytes:
            # Capture sends whole frames of the format it announces; anything else
            # is a broken transport, not audio to guess at.
            self.stats.count("frames_dropped.bad_length")
            return
        if inbound.available == 0:
            chain.chunk_capture_ns = msg.capture_ns
        ready = inbound.process(pcm)
        if inbound.dropped_samples != chain.dropped:
            self.stats.count("samples_dropped.chunker", inbound.dropped_samples - chain.dropped)
            chain.dropped = inbound.dropped_samples
        if inbound.vad:
            self._detect(chain, msg.capture_ns)
        if ready:
            self._push(chain, msg.capture_ns)

    def _detect(self, chain: SessionDsp, capture_ns: int) -> None:
        """Send the local VAD's events of this frame; an onset flushes playout."""
        inbound, rate, session = chain.inbound, chain.cfg.model_rate, chain.cfg.session
        while (event := inbound.pop_event()) is not None:
            kind, sample = event
            # The onset on the wall clock: this frame's capture stamp minus the audio
            # between the event sample and the end of what the chain has produced.
            behind = inbound.samples_out - sample
            onset_ns = capture_ns - behind * 1_000_000_000 // rate
            if kind == SPEECH_START:
                self.stats.count("local_vad_onsets")
                self.send("playout", PlayoutFlush(session, "local_vad", onset_ns))
                speech: type[LocalSpeechStarted | LocalSpeechStopped] = LocalSpeechStarted
            else:
                speech = LocalSpeechStopped
            self.send("playout", StreamEvent(session, speech(chain.vad_base + sample, onset_ns),
                                             time.monotonic_ns()))

    def _push(self, chain: SessionDsp, capture_ns: int) -> None:
        cfg = chain.cfg
        while chain.inbound.pop_chunk(chain.chunk):
            out = UserAudio(cfg.session, chain.chunk_seq, cfg.model_rate, bytes(chain.chunk),
                            chain.chunk_capture_ns, time.monotonic_ns(), chain.position)
            payload = data_encoder.encode(out)
            self.send_encoded("model", cfg.session, payload)
            self.send_encoded("playout", cfg.session, payload)
            chain.chunk_seq += 1
            chain.position += len(chain.chunk) // 2
            chain.chunk_capture_ns = capture_ns
            self.stats.count("chunks_out")


def main(argv: list[str] | None = None) -> int:
    return run_stage(DspStage, argv)


if __name__ == "__main__":
    sys.exit(main())
