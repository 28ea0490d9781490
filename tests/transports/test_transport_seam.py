"""The stage side of the transport seam, without processes: specs, the registry, the file
source's framing and the edge's frame cutter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ipc.schema import FileTransport, LoopbackTransport, SessionConfig, transport_kind
from pipeline.record.wav_writer import write_wav
from pipeline.stages.edge_call import FrameCutter
from pipeline.transports.base import served_by_capture
from pipeline.transports.file.source import FileSource
from pipeline.transports.file.spec import file_transport
from pipeline.transports.registry import MODULES_ENV, edge_connector, transport_module
from tests.transports.loopback.edge import LoopbackConnection


def test_file_transport_reads_the_header(tmp_path: Path) -> None:
    wav = tmp_path / "in.wav"
    write_wav(wav, np.zeros((1234, 2), dtype=np.int16), 16000)
    spec = file_transport(wav, realtime=False, tail_silence_ms=200)
    assert spec == FileTransport(str(wav), 16000, 2, 1234, realtime=False, tail_silence_ms=200)
    assert transport_kind(spec) == "file" and served_by_capture(spec)
    with pytest.raises(FileNotFoundError, match="input not found"):
        file_transport(tmp_path / "missing.wav")
    (tmp_path / "bad.wav").write_bytes(b"not a wav at all")
    with pytest.raises(ValueError, match="not a RIFF/WAVE file"):
        file_transport(tmp_path / "bad.wav")


def test_file_source_frames_pad_the_last_one_and_end_in_silence(tmp_path: Path) -> None:
    wav = tmp_path / "in.wav"
    pcm = np.arange(1, 16000 * 25 // 1000 + 1, dtype=np.int16)  # 2.5 frames of 10 ms
    write_wav(wav, pcm, 16000)
    src = FileSource.open(file_transport(wav, tail_silence_ms=30), frame_ms=10)
    try:
        assert src.total_frames == 3 + 3
        assert (src.format.sample_rate, src.format.channels) == (16000, 1)
        frames = [np.frombuffer(src.frame(k), dtype="<i2") for k in range(src.total_frames)]
    finally:
        src.close()
    assert all(len(f) == 160 for f in frames)
    assert np.array_equal(np.concatenate(frames)[: len(pcm)], pcm)
    assert not np.concatenate(frames)[len(pcm) :].any()


def test_registry_maps_kinds_to_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODULES_ENV, raising=False)
    assert transport_module("loopback") == "pipeline.transports.loopback"
    with pytest.raises(LookupError, match=r"cannot import pipeline\.transports\.loopback"):
        edge_connector("loopback")
    with pytest.raises(LookupError, match="has no edge_connection"):
        edge_connector("file")
    monkeypatch.setenv(MODULES_ENV, " x=a.b , loopback=tests.transports.loopback,junk")
    assert transport_module("x") == "a.b"
    connector = edge_connector("loopback")
    spec = LoopbackTransport("127.0.0.1:5")
    assert transport_kind(spec) == "loopback" and not served_by_capture(spec)
    conn = connector(SessionConfig("s", 0, "/tmp", spec), lambda event: None)
    assert isinstance(conn, LoopbackConnection) and conn.port == 5


@pytest.mark.parametrize("cuts", [[320], [1, 319, 320], [100, 700, 3, 137], [960]])
def test_frame_cutter_gives_whole_frames_in_order(cuts: list[int]) -> None:
    stream = bytes(range(256)) * 4
    cutter, out, pos = FrameCutter(320), [], 0
    for n in cuts:
        out += cutter.push(stream[pos : pos + n])
        pos += n
    assert all(len(f) == 320 for f in out)
    assert b"".join(out) == stream[: pos // 320 * 320]
