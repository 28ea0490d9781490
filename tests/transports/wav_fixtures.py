"""Byte-level WAV builders for reader tests: any tag, bit depth, layout or damage."""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt

TAG_PCM = 1
TAG_FLOAT = 3
TAG_MULAW = 7
TAG_EXTENSIBLE = 0xFFFE
GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def chunk(chunk_id: bytes, body: bytes, declared: int | None = None) -> bytes:
    size = len(body) if declared is None else declared
    pad = b"\x00" if len(body) % 2 else b""
    return chunk_id + struct.pack("<I", size) + body + pad


def fmt_body(tag: int, channels: int, rate: int, bits: int, *, extensible: bool = False) -> bytes:
    block = channels * bits // 8
    head_tag = TAG_EXTENSIBLE if extensible else tag
    body = struct.pack("<HHIIHH", head_tag, channels, rate, rate * block, block, bits)
    if extensible:
        mask = 0x4 if channels == 1 else 0x3
        body += struct.pack("<HHI", 22, bits, mask) + struct.pack("<H", tag) + GUID_TAIL
    return body


def wav_bytes(
    tag: int,
    bits: int,
    channels: int,
    rate: int,
    data: bytes,
    *,
    extensible: bool = False,
    before_fmt: bytes = b"",
    before_data: bytes = b"",
    data_declared: int | None = None,
) -> bytes:
    body = (
        b"WAVE"
        + before_fmt
        + chunk(b"fmt ", fmt_body(tag, channels, rate, bits, extensible=extensible))
        + before_data
        + b"data"
        + struct.pack("<I", len(data) if data_declared is None else data_declared)
        + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def reference_s16(frames: int, channels: int, seed: int = 7) -> npt.NDArray[np.int16]:
    """Seeded int16 test signal (frames, channels) that includes both full-scale extremes."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-32768, 32768, size=(frames, channels), dtype=np.int64)
    x[0, :] = -32768
    x[1, :] = 32767
    x[2, :] = 0
    return x.astype(np.int16)


def encode(s16: npt.NDArray[np.int16], fmt: str, seed: int = 3) -> bytes:
    """Encode int16 samples so a faithful reader returns them within 1 LSB.

    24/32-bit get random low bits below the int16 part (a reader must drop them).
    """
    rng = np.random.default_rng(seed)
    v = s16.astype(np.int64).reshape(-1)
    if fmt == "pcm_u8":
        return ((v >> 8) + 128).astype(np.uint8).tobytes()
    if fmt == "pcm_s16":
        return v.astype("<i2").tobytes()
    if fmt == "pcm_s24":
        v24 = v * 256 + rng.integers(0, 256, size=v.shape)
        le = v24.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
        return np.ascontiguousarray(le).tobytes()
    if fmt == "pcm_s32":
        return (v * 65536 + rng.integers(0, 65536, size=v.shape)).astype("<i4").tobytes()
    if fmt == "float32":
        return (v / 32767.0).astype("<f4").tobytes()
    if fmt == "float64":
        return (v / 32767.0).astype("<f8").tobytes()
    raise ValueError(fmt)
