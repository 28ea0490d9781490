"""dsp: every microphone frame of every session passes here.

Per frame: downmix -> int16->float -> resample to the model's input rate ->
float->int16 -> re-chunk to ``chunk_ms`` chunks, each sent to the model stage
and to playout (the user channel of the recording). The per-sample work is in
``native`` (Cython, GIL released) and soxr; buffers are allocated once per
session, never per frame.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

from ipc.schema import CaptureFrame, DataMsg, SessionConfig, UserAudio, data_encoder
from native.chunker import Chunker
from native.convert import downmix_s16, f32_to_s16, s16_to_f32
from pipeline.stages.runner import HotStage, run_stage


@dataclass
class SessionDsp:
    """One session's signal chain state and its preallocated buffers."""

    cfg: SessionConfig
    in_rate: int
    in_channels: int
    resampler: soxr.ResampleStream | None
    chunker: Chunker
    mono: bytearray
    f32: npt.NDArray[np.float32]
    s16: bytearray
    chunk: bytearray
    next_seq: int = -1  # capture seq expected next; -1 until the first frame
    chunk_seq: int = 0
    position: int = 0  # timeline sample (model rate) of the chunker's first sample
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
        # soxr's HQ stream emits in bursts (e.g. 734 samples every third 10 ms frame at
        # 16->24 kHz): room for half a second of output covers any burst.
        frame_out = cfg.model_rate // 2
        chunk_samples = cfg.model_rate * cfg.chunk_ms // 1000
        resampler = None
        if in_rate != cfg.model_rate:
            resampler = soxr.ResampleStream(in_rate, cfg.model_rate, 1, dtype="float32",
                                            quality="HQ")
        return SessionDsp(
            cfg, in_rate, in_channels, resampler,
            Chunker(chunk_samples, chunk_samples * 50),
            bytearray(2 * frame_in), np.zeros(frame_in, np.float32),
            bytearray(2 * frame_out), bytearray(2 * chunk_samples),
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
        chain.position = seq * _frame_samples(cfg.model_rate, cfg.frame_ms)
        return chain

    def _process(self, chain: SessionDsp, msg: CaptureFrame) -> None:
        pcm: bytes | bytearray = msg.pcm
        n = len(pcm) // (2 * msg.channels)
        if n > chain.f32.shape[0]:
            self.stats.count("frames_dropped.too_long")
            return
        if msg.channels > 1:
            downmix_s16(pcm, msg.channels, chain.mono)
            pcm = memoryview(chain.mono)[: 2 * n]  # type: ignore[assignment]
        if chain.resampler is None:
            self._push(chain, pcm, msg.capture_ns)
            return
        s16_to_f32(pcm, chain.f32)
        out = chain.resampler.resample_chunk(chain.f32[:n])
        m = f32_to_s16(np.ascontiguousarray(out, dtype=np.float32), chain.s16)
        self._push(chain, memoryview(chain.s16)[: 2 * m], msg.capture_ns)

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
