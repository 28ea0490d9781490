"""The dsp stage runs on the native kernels only: no soxr, no numpy per sample.

Two checks that fail if the kernels are bypassed: the stage's module imports
neither soxr nor numpy (and loading it leaves soxr unloaded), and the chunks it
sends are bit-identical to what the native resampler and chunker produce for
the same frames.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np

from ipc.schema import CaptureFrame, SessionConfig, UserAudio, data_decoder
from native.chunker import Chunker
from native.resample import Resampler
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
        self.sent: list[tuple[str, bytes]] = []
        from ipc.stats import StageStats

        self.stats = StageStats()

    def send_encoded(self, dst: str, payload: bytes) -> bool:
        self.sent.append((dst, payload))
        return True

    def send(self, dst: str, msg: Any) -> bool:
        return True


def test_dsp_output_is_the_native_chain_bit_for_bit() -> None:
    with wave.open(str(ROOT / "examples" / "audio" / "three_turns.wav")) as w:
        pcm16k = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")[: 16000 * 3]
    cfg = SessionConfig(session="s", t0_ns=0, out_dir="/tmp", input_path="x", input_rate=16000,
                        input_channels=1, input_frames=pcm16k.size)
    stage = _Capture()
    stage.on_session_start(cfg, resumed=False)
    frames = pcm16k.reshape(-1, 160)
    for seq, frame in enumerate(frames):
        stage.on_data(CaptureFrame("s", seq, 16000, 1, frame.tobytes(), 0))
    chunks = [data_decoder.decode(p) for dst, p in stage.sent if dst == "model"]
    assert chunks and all(isinstance(c, UserAudio) for c in chunks)
    got = b"".join(c.pcm for c in chunks if isinstance(c, UserAudio))
    # The same frames through the kernels directly.
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
