"""Audio formats on the wire: pcm16 at 24 kHz, and G.711 µ-law / A-law at 8 kHz.

The server works in pcm16 24 kHz throughout; this module converts at the two
edges, `input_audio_buffer.append` (`decode_input`) and response audio deltas
(`encode_output`). Names: beta `pcm16`/`g711_ulaw`/`g711_alaw`, GA
`audio/pcm`/`audio/pcmu`/`audio/pcma`.

The 8 kHz <-> 24 kHz step is chunk-local on purpose: up by repeating each
sample three times, down by averaging each group of three. Each delta and
each append then converts on its own (no filter state across messages), and
down∘up is the identity, so a G.711 round trip through the server only adds
the codec's own quantisation. The price is a soft anti-alias filter, which an
offline test model can afford.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from . import wire

AudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]
FORMATS: tuple[AudioFormat, ...] = ("pcm16", "g711_ulaw", "g711_alaw")
GA_TYPES: dict[str, AudioFormat] = {
    "audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw",
}
GA_TYPE_OF: dict[AudioFormat, str] = {fmt: ga for ga, fmt in GA_TYPES.items()}
G711_RATE = 8_000
_UP = 3  # 24 kHz / 8 kHz

# G.711 (ITU-T, the classic Sun reference): µ-law on 14-bit, A-law on 13-bit magnitudes.
_ULAW_BIAS = 0x21
_ULAW_CLIP = 8159
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), _ULAW_CLIP) + _ULAW_BIAS
    seg = np.searchsorted(_ULAW_SEG_END, mag)  # first segment whose end >= mag
    uval = (np.minimum(seg, 7) << 4) | ((mag >> (seg + 1)) & 0x0F)
    uval = np.where(seg >= 8, 0x7F, uval)
    return ((uval ^ mask) & 0xFF).astype(np.uint8)


def _ulaw_decode_table() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mag = (((u & 0x0F) << 3) + 0x84 << exponent) - 0x84
    return np.where(u & 0x80, -mag, mag).astype(np.int16)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    mag = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = np.searchsorted(_ALAW_SEG_END, mag)  # first segment whose end >= mag
    shift = np.where(seg < 2, 1, seg)
    aval = (np.minimum(seg, 7) << 4) | ((mag >> shift) & 0x0F)
    aval = np.where(seg >= 8, 0x7F, aval)
    return ((aval ^ mask) & 0xFF).astype(np.uint8)


def _alaw_decode_table() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


# Lookup tables: 64 KiB per encoder, built once at import (a few ms).
_ENCODE = {"g711_ulaw": _ulaw_encode_table(), "g711_alaw": _alaw_encode_table()}
_DECODE = {"g711_ulaw": _ulaw_decode_table(), "g711_alaw": _alaw_decode_table()}


def bytes_per_frame(fmt: AudioFormat) -> int:
    """Bytes per sample of `fmt` on the wire (a valid payload is a multiple of it)."""
    return 2 if fmt == "pcm16" else 1


def g711_encode(pcm: npt.NDArray[np.int16], fmt: AudioFormat) -> npt.NDArray[np.uint8]:
    """G.711 code bytes of `pcm` (same rate)."""
    encoded: npt.NDArray[np.uint8] = _ENCODE[fmt][pcm.astype(np.int32) + 32768]
    return encoded


def g711_decode(codes: npt.NDArray[np.uint8], fmt: AudioFormat) -> npt.NDArray[np.int16]:
    """pcm16 of G.711 code bytes (same rate)."""
    decoded: npt.NDArray[np.int16] = _DECODE[fmt][codes]
    return decoded


def decode_input(raw: bytes, fmt: AudioFormat) -> npt.NDArray[np.int16]:
    """Appended audio in `fmt` as pcm16 at 24 kHz."""
    if fmt == "pcm16":
        return np.frombuffer(raw, dtype=np.int16)
    pcm8k = g711_decode(np.frombuffer(raw, dtype=np.uint8), fmt)
    return np.repeat(pcm8k, _UP)


def decode_append(b64: str, fmt: AudioFormat) -> npt.NDArray[np.int16]:
    """The `audio` of an `input_audio_buffer.append` as pcm16 at 24 kHz (ProtocolError if bad)."""
    return decode_input(wire.decode_audio(b64, "audio", bytes_per_frame(fmt)), fmt)


def encode_output(pcm16: npt.NDArray[np.int16], fmt: AudioFormat) -> bytes:
    """Response audio (pcm16 at 24 kHz) as bytes in `fmt` (G.711: at 8 kHz)."""
    if fmt == "pcm16":
        return pcm16.tobytes()
    usable = pcm16.size - pcm16.size % _UP
    groups = pcm16[:usable].astype(np.int32).reshape(-1, _UP)
    pcm8k = np.round(groups.sum(axis=1) / _UP).astype(np.int16)
    if usable < pcm16.size:  # a ragged tail (never with whole-millisecond chunks)
        pcm8k = np.append(pcm8k, np.int16(pcm16[usable:].astype(np.int32).mean()))
    return g711_encode(pcm8k, fmt).tobytes()
