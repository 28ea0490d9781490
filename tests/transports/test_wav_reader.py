"""WavSource: every supported encoding against a known signal, chunk layouts, every error."""

from __future__ import annotations

import os
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from pipeline.transports.file.wav_reader import WavFormatError, WavSource
from tests.transports.wav_fixtures import (
    TAG_FLOAT,
    TAG_MULAW,
    TAG_PCM,
    chunk,
    encode,
    fmt_body,
    reference_s16,
    wav_bytes,
)

# (sample_format, format tag, bits, exact?)
ENCODINGS = [
    ("pcm_u8", TAG_PCM, 8, False),
    ("pcm_s16", TAG_PCM, 16, True),
    ("pcm_s24", TAG_PCM, 24, False),
    ("pcm_s32", TAG_PCM, 32, False),
    ("float32", TAG_FLOAT, 32, False),
    ("float64", TAG_FLOAT, 64, False),
]


def _write(tmp_path: Path, blob: bytes, name: str = "in.wav") -> Path:
    path = tmp_path / name
    path.write_bytes(blob)
    return path


def _read_all(src: WavSource) -> np.ndarray:
    return np.frombuffer(src.read_s16(0, src.frames), dtype="<i2").reshape(-1, src.channels)


@pytest.mark.parametrize("extensible", [False, True], ids=["plain", "extensible"])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize(("fmt", "tag", "bits", "exact"), ENCODINGS, ids=[e[0] for e in ENCODINGS])
def test_every_encoding_matches_source(
    tmp_path: Path, fmt: str, tag: int, bits: int, exact: bool, channels: int, extensible: bool
) -> None:
    ref = reference_s16(1001, channels)
    blob = wav_bytes(tag, bits, channels, 22050, encode(ref, fmt), extensible=extensible)
    with WavSource.open(_write(tmp_path, blob)) as src:
        assert (src.sample_rate, src.channels, src.frames) == (22050, channels, 1001)
        assert src.sample_format == fmt
        assert src.duration_s == pytest.approx(1001 / 22050)
        got = _read_all(src)
    assert got.shape == ref.shape
    diff = np.abs(got.astype(np.int32) - ref.astype(np.int32))
    if exact:
        np.testing.assert_array_equal(got, ref)
    elif fmt == "pcm_u8":
        # 8-bit keeps only the top byte: exactly (ref >> 8) << 8.
        np.testing.assert_array_equal(got, ((ref.astype(np.int32) >> 8) << 8).astype(np.int16))
    else:
        assert diff.max() <= 1, f"{fmt}: max diff {diff.max()} at {diff.argmax()}"


def test_stereo_is_interleaved_left_first(tmp_path: Path) -> None:
    left = np.arange(0, 100, dtype=np.int16)
    right = -np.arange(0, 100, dtype=np.int16) - 1
    ref = np.stack([left, right], axis=1)
    path = _write(tmp_path, wav_bytes(TAG_PCM, 16, 2, 8000, ref.astype("<i2").tobytes()))
    with WavSource.open(path) as src:
        raw = np.frombuffer(src.read_s16(10, 3), dtype="<i2")
    np.testing.assert_array_equal(raw, [10, -11, 11, -12, 12, -13])


def test_float_scaling_clips_and_zeroes_nan(tmp_path: Path) -> None:
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5, np.nan, np.inf, -np.inf], dtype="<f4")
    with WavSource.open(_write(tmp_path, wav_bytes(TAG_FLOAT, 32, 1, 16000, x.tobytes()))) as src:
        got = np.frombuffer(src.read_s16(0, 100), dtype="<i2")
    expected = [0, 16384, -16384, 32767, -32767, 32767, -32768, 0, 32767, -32767]
    np.testing.assert_array_equal(got, expected)


def test_read_windows_and_end_of_file(tmp_path: Path) -> None:
    ref = reference_s16(500, 2)
    path = _write(tmp_path, wav_bytes(TAG_PCM, 24, 2, 48000, encode(ref, "pcm_s24")))
    with WavSource.open(path) as src:
        middle = np.frombuffer(src.read_s16(123, 7), dtype="<i2").reshape(-1, 2)
        tail = np.frombuffer(src.read_s16(495, 100), dtype="<i2").reshape(-1, 2)
        assert src.read_s16(500, 10) == b""
        assert src.read_s16(10_000, 10) == b""
        assert src.read_s16(0, 0) == b""
        with pytest.raises(ValueError, match=">= 0"):
            src.read_s16(-1, 10)
    assert middle.shape == (7, 2) and np.abs(middle - ref[123:130]).max() <= 1
    assert tail.shape == (5, 2) and np.abs(tail - ref[495:]).max() <= 1


def test_chunks_before_fmt_and_data_with_odd_padding(tmp_path: Path) -> None:
    ref = reference_s16(64, 1)
    blob = wav_bytes(
        TAG_PCM,
        16,
        1,
        16000,
        encode(ref, "pcm_s16"),
        before_fmt=chunk(b"JUNK", b"abc"),  # odd size: one pad byte follows
        before_data=chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00test\x00")
        + chunk(b"fact", b"\x40\0\0\0"),
    )
    with WavSource.open(_write(tmp_path, blob)) as src:
        np.testing.assert_array_equal(_read_all(src), ref)


@pytest.mark.parametrize("declared", [10_000, 0xFFFFFFFF])
def test_data_shorter_than_declared_plays_what_is_present(tmp_path: Path, declared: int) -> None:
    ref = reference_s16(300, 2)
    data = encode(ref, "pcm_s16") + b"\x01\x02\x03"  # plus a partial frame, dropped
    path = _write(tmp_path, wav_bytes(TAG_PCM, 16, 2, 16000, data, data_declared=declared))
    with WavSource.open(path) as src:
        assert src.frames == 300
        np.testing.assert_array_equal(_read_all(src), ref)


def test_long_file_is_not_loaded(tmp_path: Path) -> None:
    # A sparse ~1.5 GB WAV: opening and reading its tail must touch only what is read.
    data_bytes = 750_000_000 * 2
    path = tmp_path / "long.wav"
    with open(path, "wb") as f:
        f.write(wav_bytes(TAG_PCM, 16, 1, 16000, b"", data_declared=data_bytes))
        f.seek(44 + data_bytes - 4)
        f.write(struct.pack("<hh", 1234, -1234))
    tracemalloc.start()
    try:
        with WavSource.open(path) as src:
            tail = np.frombuffer(src.read_s16(src.frames - 16000, 16000), dtype="<i2")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert src.frames == 750_000_000
    assert tail.shape == (16000,) and list(tail[-2:]) == [1234, -1234] and not tail[:-2].any()
    assert peak < 4_000_000, f"peak traced allocation {peak} bytes"


ERRORS = {
    "not_riff": (b"OggS" + b"\x00" * 60, "not a RIFF/WAVE file"),
    "short": (b"RIFF", "not a RIFF/WAVE file"),
    "riff_not_wave": (b"RIFF\x04\x00\x00\x00AVI " + b"\x00" * 40, "not a RIFF/WAVE file"),
    "mulaw": (
        wav_bytes(TAG_MULAW, 8, 1, 8000, b"\xff" * 100),
        "unsupported WAV encoding: mu-law (format tag 7); use PCM or float",
    ),
    "alaw_extensible": (
        wav_bytes(6, 8, 1, 8000, b"\xd5" * 100, extensible=True),
        "unsupported WAV encoding: A-law (format tag 6); use PCM or float",
    ),
    "mp3": (wav_bytes(0x55, 0, 1, 8000, b"\x00" * 100), "MP3 (format tag 85)"),
    "five_channels": (
        wav_bytes(TAG_PCM, 16, 5, 16000, b"\x00" * 100),
        "5 channels; only mono or stereo",
    ),
    "zero_channels": (wav_bytes(TAG_PCM, 16, 0, 16000, b"\x00" * 100), "0 channels"),
    "rate_low": (
        wav_bytes(TAG_PCM, 16, 1, 4000, b"\x00" * 100),
        "sample rate 4000 Hz out of range",
    ),
    "rate_high": (wav_bytes(TAG_PCM, 16, 1, 384000, b"\x00" * 100), "out of range 8000..192000"),
    "pcm_12bit": (wav_bytes(TAG_PCM, 12, 1, 16000, b"\x00" * 100), "unsupported PCM bit depth 12"),
    "float16": (
        wav_bytes(TAG_FLOAT, 16, 1, 16000, b"\x00" * 100),
        "unsupported float bit depth 16",
    ),
    "no_data": (
        b"RIFF\x24\x00\x00\x00WAVE" + chunk(b"fmt ", fmt_body(TAG_PCM, 1, 16000, 16)),
        "no data chunk",
    ),
    "no_fmt": (b"RIFF\x0c\x00\x00\x00WAVE" + chunk(b"data", b"\x00\x00"), "no fmt chunk"),
    "empty": (wav_bytes(TAG_PCM, 16, 1, 16000, b""), "empty audio"),
    "truncated_data": (
        wav_bytes(TAG_PCM, 16, 1, 16000, b"\x00", data_declared=1000),
        "truncated: data chunk declares 1000 bytes, 1 present",
    ),
    "truncated_header": (b"RIFF\x00\x00\x00\x00WAVEfmt \x10\x00", "truncated"),
    "truncated_fmt": (
        b"RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00",
        "truncated fmt",
    ),
    "truncated_before_data": (
        b"RIFF\x00\x00\x00\x00WAVE"
        + chunk(b"fmt ", fmt_body(TAG_PCM, 1, 16000, 16))
        + b"LIST\xff\x00\x00\x00abc",
        "truncated before the data chunk",
    ),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_name_file_and_problem(tmp_path: Path, case: str) -> None:
    blob, words = ERRORS[case]
    path = _write(tmp_path, blob, f"{case}.wav")
    with pytest.raises(WavFormatError) as info:
        WavSource.open(path)
    message = str(info.value)
    assert words in message
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    assert isinstance(info.value, ValueError)


def test_block_align_mismatch(tmp_path: Path) -> None:
    body = bytearray(fmt_body(TAG_PCM, 2, 16000, 16))
    body[12:14] = struct.pack("<H", 3)
    blob = b"RIFF\x00\x00\x00\x00WAVE" + chunk(b"fmt ", bytes(body)) + chunk(b"data", b"\0" * 12)
    with pytest.raises(WavFormatError, match="block align 3"):
        WavSource.open(_write(tmp_path, blob))


def test_missing_file_is_oserror_and_fds_are_released(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        WavSource.open(tmp_path / "nope.wav")
    bad = _write(tmp_path, ERRORS["mulaw"][0])
    fds_before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        with pytest.raises(WavFormatError):
            WavSource.open(bad)
    assert len(os.listdir("/proc/self/fd")) == fds_before


def test_closed_source_refuses_reads(tmp_path: Path) -> None:
    path = _write(tmp_path, wav_bytes(TAG_PCM, 16, 1, 16000, b"\x00" * 20))
    src = WavSource.open(path)
    src.close()
    src.close()
    with pytest.raises(ValueError, match="closed"):
        src.read_s16(0, 1)
