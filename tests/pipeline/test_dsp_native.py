"""The dsp stage runs on the native kernels only: no soxr, no numpy per sample.

Checks that fail if the kernels are bypassed: the stage's module imports
neither soxr nor numpy (and loading it leaves soxr unloaded), and the chunks
and local VAD events it sends are bit-identical to what ``InboundChain`` and
the separate native kernels (resampler, chunker, VAD) produce for the same
frames.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from ipc.schema import (
    CaptureFrame,
    FileTransport,
    LocalSpeechStarted,
    LocalSpeechStopped,
    PlayoutFlush,
    SessionConfig,
    StreamEvent,
    UserAudio,
)
from native.chunker import Chunker
from native.inbound_chain import InboundChain
from native.resample import Resampler
from native.vad import SPEECH_START, SPEECH_STOP, Vad
from pipeline.stages.dsp import DspStage

ROOT = Path(__file__).resolve().parents[2]
DSP = ROOT / "pipeline" / "stages" / "dsp.py"


def test_dsp_imports_no_per_sample_python() -> None:
    tree = ast.parse(DSP.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert not imported & {"numpy", "soxr", "scipy", "webrtcvad"}, imported
    out = subprocess.run(
        [sys.executable, "-c", "import sys, pipeline.stages.dsp; print('soxr' in sys.modules)"],
        cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class _Capture(DspStage):
    """The stage's chain without its sockets: sends are recorded."""

    def __init__(self) -> None:  # no sockets, no process
        self.chains = {}
        self.sent: list[tuple[str, UserAudio]] = []
        self.messages: list[tuple[str, Any]] = []
        from ipc.stats import StageStats

        self.stats = StageStats()

    def send(self, dst: str, msg: Any) -> bool:
        if isinstance(msg, UserAudio):
            self.sent.append((dst, msg))
        else:
            self.messages.append((dst, msg))
        return True


def three_turns_16k(seconds: int) -> np.ndarray[Any, np.dtype[np.int16]]:
    with wave.open(str(ROOT / "examples" / "audio" / "three_turns.wav")) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")[: 16000 * seconds]


def run_stage(cfg: SessionConfig, frames: np.ndarray[Any, np.dtype[np.int16]]) -> _Capture:
    """Frame ``seq`` captured at ``seq * 10 ms``: the onset stamps are checkable."""
    stage = _Capture()
    stage.on_session_start(cfg, resumed=False)
    for seq, frame in enumerate(frames):
        stage.on_data(CaptureFrame("s", seq, 16000, 1, frame.tobytes(), seq * 10_000_000))
    return stage


def fused_chain(frames: np.ndarray[Any, np.dtype[np.int16]],
                **vad: Any) -> tuple[bytes, list[tuple[int, int, int]]]:
    """InboundChain called directly per frame: chunks and (kind, sample, onset_ns)."""
    chain = InboundChain(16000, 24000, vad=bool(vad), **vad)
    chunk, pcm, events = bytearray(4800), bytearray(), []
    for seq, frame in enumerate(frames):
        chain.process(frame.tobytes())
        while (event := chain.pop_event()) is not None:
            behind = chain.samples_out - event[1]
            events.append((*event, seq * 10_000_000 - behind * 1_000_000_000 // 24000))
        while chain.pop_chunk(chunk):
            pcm += chunk
    return bytes(pcm), events


def test_dsp_output_is_the_native_chain_bit_for_bit() -> None:
    pcm16k = three_turns_16k(3)
    cfg = SessionConfig(session="s", t0_ns=0, out_dir="/tmp", frame_ms=10,
                        transport=FileTransport("x", 16000, 1, pcm16k.size))
    frames = pcm16k.reshape(-1, 160)
    stage = run_stage(cfg, frames)
    chunks = [c for dst, c in stage.sent if dst == "model"]
    assert chunks and all(isinstance(c, UserAudio) for c in chunks)
    got = b"".join(c.pcm for c in chunks if isinstance(c, UserAudio))
    assert [c.position for c in chunks if isinstance(c, UserAudio)] == [
        2400 * i for i in range(len(chunks))]
    assert not stage.messages  # no local VAD configured: no events
    # The same frames through the fused kernel, and through the separate kernels.
    assert got == fused_chain(frames)[0]
    resampler, chunker = Resampler(16000, 24000), Chunker(2400, 2400 * 50)
    out, chunk = bytearray(2 * resampler.max_output(160)), bytearray(4800)
    want = bytearray()
    total = 0
    for frame in frames:
        m = resampler.process_s16(frame.tobytes(), out)
        total += m
        chunker.push(memoryview(out)[: 2 * m])
        while chunker.pop(chunk):
            want += chunk
    assert got == bytes(want)
    assert len(got) // 2 == total // 2400 * 2400 and total > 2400 * 10
    speech = np.frombuffer(got, dtype="<i2").astype(np.float64)
    assert np.sqrt(np.mean(speech ** 2)) > 100  # the first turn is in it, not silence


def test_dsp_local_vad_events_are_the_native_vad_bit_for_bit() -> None:
    pcm16k = three_turns_16k(10)  # turns at 1.0-2.5 s and 6.6-8.7 s
    cfg = SessionConfig(session="s", t0_ns=0, out_dir="/tmp", frame_ms=10,
                        transport=FileTransport("x", 16000, 1, pcm16k.size),
                        local_vad_min_speech_ms=30)
    frames = pcm16k.reshape(-1, 160)
    stage = run_stage(cfg, frames)
    flushes = [m for _, m in stage.messages if isinstance(m, PlayoutFlush)]
    events = [m for _, m in stage.messages if isinstance(m, StreamEvent)]
    assert all(dst == "playout" for dst, _ in stage.messages)
    speech = [e.event for e in events]
    assert all(isinstance(e, LocalSpeechStarted | LocalSpeechStopped) for e in speech)
    got = [(type(e), e.sample, e.onset_ns) for e in speech
           if isinstance(e, LocalSpeechStarted | LocalSpeechStopped)]
    assert [f.onset_ns for f in flushes] == [
        ns for kind, _, ns in got if kind is LocalSpeechStarted]
    assert [kind for kind, _, _ in got] == [LocalSpeechStarted, LocalSpeechStopped] * 2
    assert abs(got[0][1] / 24000 - 1.0) < 0.1 and abs(got[2][1] / 24000 - 6.575) < 0.1
    names = {SPEECH_START: LocalSpeechStarted, SPEECH_STOP: LocalSpeechStopped}
    # The fused kernel run directly ...
    _, fused = fused_chain(frames, vad_min_speech_ms=30, vad_min_silence_ms=500,
                           vad_prefix_padding_ms=300)
    assert got == [(names[kind], sample, ns) for kind, sample, ns in fused]
    # ... and the separate kernels as the stage used to run them: 10 ms frames of
    # resampled audio cut by a second chunker, the onset stamped from the backlog.
    resampler, vad_frames = Resampler(16000, 24000), Chunker(240, 240 * 50)
    vad = Vad(24000, 10, min_speech_ms=30, min_silence_ms=500, prefix_padding_ms=300)
    out, frame10 = bytearray(2 * resampler.max_output(160)), bytearray(480)
    want = []
    for seq, frame in enumerate(frames):
        m = resampler.process_s16(frame.tobytes(), out)
        vad_frames.push(memoryview(out)[: 2 * m])
        while vad_frames.pop(frame10):
            result = vad.process(frame10)
            if result in names:
                behind = vad.samples_seen - vad.event_sample + vad_frames.available
                want.append((names[result], vad.event_sample,
                             seq * 10_000_000 - behind * 1_000_000_000 // 24000))
    assert got == want


def test_twenty_ms_frames_give_the_ten_ms_frames_chunks_and_vad_samples() -> None:
    # Capture's default frame is 20 ms (half the messages of 10 ms per hop); the chain
    # runs its VAD on 10 ms frames inside, so what it produces is the same audio and the
    # same event samples, only the onset stamps follow the later frame boundary.
    pcm16k = three_turns_16k(10)
    base = SessionConfig(session="s", t0_ns=0, out_dir="/tmp", local_vad_min_speech_ms=30,
                         transport=FileTransport("x", 16000, 1, pcm16k.size))
    assert base.frame_ms == 20
    ten = run_stage(msgspec.structs.replace(base, frame_ms=10), pcm16k.reshape(-1, 160))
    twenty = _Capture()
    twenty.on_session_start(base, resumed=False)
    for seq, frame in enumerate(pcm16k.reshape(-1, 320)):
        twenty.on_data(CaptureFrame("s", seq, 16000, 1, frame.tobytes(), seq * 20_000_000))

    def chunks(st: _Capture) -> list[tuple[int, bytes]]:
        return [(c.position, c.pcm) for dst, c in st.sent if dst == "model"]

    def samples(st: _Capture) -> list[tuple[str, int]]:
        return [(type(m.event).__name__, m.event.sample) for _, m in st.messages
                if isinstance(m, StreamEvent)]

    assert chunks(twenty) == chunks(ten) and len(chunks(ten)) > 90
    assert samples(twenty) == samples(ten) and len(samples(ten)) == 4
