"""write_wav / WavWriter: headers valid for stdlib wave, atomic replacement."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline.record.wav_writer import WavWriter, write_wav
from pipeline.transports.file.wav_reader import WavSource
from tests.transports.wav_fixtures import reference_s16


def _read_wave(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        data = np.frombuffer(w.readframes(params.nframes), dtype="<i2")
    return params, data.reshape(-1, params.nchannels)


@pytest.mark.parametrize("shape", [(0,), (1,), (1000,), (777, 1), (1000, 2)])
def test_round_trip_through_stdlib_wave(tmp_path: Path, shape: tuple[int, ...]) -> None:
    channels = shape[1] if len(shape) == 2 else 1
    ref = reference_s16(max(shape[0], 3), channels)[: shape[0]].reshape(shape)
    path = tmp_path / "out.wav"
    assert write_wav(path, ref, 24000) == shape[0]
    params, data = _read_wave(path)
    assert (params.nchannels, params.sampwidth, params.framerate, params.nframes) == (
        channels,
        2,
        24000,
        shape[0],
    )
    np.testing.assert_array_equal(data, ref.reshape(-1, channels))
    assert path.stat().st_size == 44 + ref.size * 2
    assert not (tmp_path / "out.wav.tmp").exists()
    if shape[0]:
        with WavSource.open(path) as src:
            np.testing.assert_array_equal(
                np.frombuffer(src.read_s16(0, src.frames), dtype="<i2"), ref.reshape(-1)
            )


def test_replaces_existing_file_and_abort_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    write_wav(path, np.ones(10, dtype=np.int16), 16000)
    with pytest.raises(RuntimeError, match="boom"), WavWriter(path, 16000, 1) as writer:
        writer.write(np.zeros(5, dtype=np.int16))
        raise RuntimeError("boom")
    assert not (tmp_path / "out.wav.tmp").exists()
    assert _read_wave(path)[0].nframes == 10
    write_wav(path, np.full((3, 2), 7, dtype=np.int16), 8000)
    params, data = _read_wave(path)
    assert (params.nframes, params.nchannels) == (3, 2) and (data == 7).all()


def test_streaming_blocks_equal_one_shot(tmp_path: Path) -> None:
    ref = reference_s16(10_001, 2)
    with WavWriter(tmp_path / "a.wav", 48000, 2) as writer:
        for start in range(0, len(ref), 999):
            writer.write(ref[start : start + 999])
        assert writer.commit() == len(ref)
    write_wav(tmp_path / "b.wav", ref, 48000)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


def test_rejects_wrong_dtype_shape_and_channel_count(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="int16"):
        write_wav(tmp_path / "x.wav", np.zeros(4, dtype=np.float32), 16000)
    with pytest.raises(ValueError, match="shape"):
        write_wav(tmp_path / "x.wav", np.zeros((2, 2, 2), dtype=np.int16), 16000)
    with (
        WavWriter(tmp_path / "y.wav", 16000, 2) as writer,
        pytest.raises(ValueError, match="expected 2 channels"),
    ):
        writer.write(np.zeros(4, dtype=np.int16))
    assert not list(tmp_path.iterdir())
