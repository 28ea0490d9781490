"""native.g711 against the plain-numpy reference written from G.711's tables, bit for bit.

Every int16 value and every code is checked, so there is no sampling: the kernel
and the reference agree everywhere or the test names the first disagreement.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from native import g711
from tests.native.gil import prove_gil_released
from tests.reference import g711_ref

ALL_S16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))

Codec = tuple[Callable[..., bytes], Callable[..., bytes]]
LAWS: dict[str, Codec] = {
    "ulaw": (g711.ulaw_encode, g711.ulaw_decode),
    "alaw": (g711.alaw_encode, g711.alaw_decode),
}
REFS: dict[str, Codec] = {
    "ulaw": (g711_ref.ulaw_encode, g711_ref.ulaw_decode),
    "alaw": (g711_ref.alaw_encode, g711_ref.alaw_decode),
}


def first_mismatch(got: bytes, want: bytes, width: int) -> str:
    a = np.frombuffer(got, dtype=np.uint8 if width == 1 else "<i2")
    b = np.frombuffer(want, dtype=np.uint8 if width == 1 else "<i2")
    i = int(np.flatnonzero(a != b)[0])
    return f"index {i}: kernel {a[i]} reference {b[i]}"


@pytest.mark.parametrize("law", LAWS)
def test_encode_matches_reference_for_every_int16(law: str) -> None:
    pcm = ALL_S16.tobytes()
    got, want = LAWS[law][0](pcm), REFS[law][0](pcm)
    assert len(got) == 65536
    assert got == want, first_mismatch(got, want, 1)


@pytest.mark.parametrize("law", LAWS)
def test_decode_matches_reference_for_every_code(law: str) -> None:
    got, want = LAWS[law][1](ALL_CODES), REFS[law][1](ALL_CODES)
    assert len(got) == 512
    assert got == want, first_mismatch(got, want, 2)


def test_known_values_from_the_standard() -> None:
    # Sign bit set for positive; mu-law 0xFF is +0 and 0x80 its largest positive
    # value, A-law 0xD5 the smallest positive and 0xAA its largest.
    assert g711.ulaw_encode(np.array([0, -1, 32767, -32768], np.int16)) == b"\xff\x7f\x80\x00"
    assert g711.alaw_encode(np.array([0, -1, 32767, -32768], np.int16)) == b"\xd5\x55\xaa\x2a"
    ulaw = np.frombuffer(g711.ulaw_decode(b"\xff\x7f\x80\x00"), "<i2")
    assert ulaw.tolist() == [0, 0, 32124, -32124]
    alaw = np.frombuffer(g711.alaw_decode(b"\xd5\x55\xaa\x2a"), "<i2")
    assert alaw.tolist() == [8, -8, 32256, -32256]


@pytest.mark.parametrize("law", LAWS)
def test_every_code_survives_decode_then_encode(law: str) -> None:
    encode, decode = LAWS[law]
    again = encode(decode(ALL_CODES))
    if law == "ulaw":
        # -0 (0x7F) decodes to 0, which encodes as +0 (0xFF): the only alias.
        assert again == ALL_CODES.replace(b"\x7f", b"\xff")
    else:
        assert again == ALL_CODES


@pytest.mark.parametrize("law", LAWS)
def test_round_trip_error_is_within_half_a_step(law: str) -> None:
    encode, decode = LAWS[law]
    x = ALL_S16.astype(np.int64)
    y = np.frombuffer(decode(encode(ALL_S16.tobytes())), "<i2").astype(np.int64)
    err = np.abs(y - x)
    mag = np.abs(x)
    if law == "ulaw":
        # Step 8 << seg in 16-bit units (seg from the biased magnitude), half a
        # step plus the 2 bits dropped on the way in; clipping past 32635.
        seg = np.clip(np.floor(np.log2((mag >> 2) + 33)).astype(np.int64) - 5, 0, 7)
        bound = (4 << seg) + 4
        inside, outermost = mag <= 32635, 32124
    else:
        seg = np.clip(np.floor(np.log2(np.maximum(mag >> 4, 1))).astype(np.int64) - 3, 0, 7)
        bound = (8 << np.maximum(seg, 1)) + 8
        inside, outermost = mag <= 32767, 32256
    worst = int(x[inside][np.argmax(err[inside] - bound[inside])])
    assert np.all(err[inside] <= bound[inside]), f"worst sample {worst}"
    # Relative error of a companded code stays near 2**-5 above the first segments.
    loud = mag >= 1024
    assert np.max(err[loud] / mag[loud]) < 1 / 16
    # Clipped samples decode to the outermost value of their sign.
    assert set(y[~inside].tolist()) <= {outermost, -outermost}


@pytest.mark.parametrize("law", LAWS)
def test_odd_length_pcm_is_a_clear_error(law: str) -> None:
    with pytest.raises(ValueError, match="even byte count"):
        LAWS[law][0](b"\x00\x01\x02")


@pytest.mark.parametrize("law", LAWS)
def test_empty_and_unaligned_input(law: str) -> None:
    encode, decode = LAWS[law]
    assert encode(b"") == b"" and decode(b"") == b""
    pcm = ALL_S16[::97].tobytes()
    unaligned = memoryview(b"\x00" + pcm)[1:]
    assert encode(unaligned) == encode(pcm)
    codes = encode(pcm)
    assert decode(memoryview(b"\x00" + codes)[1:]) == decode(codes)


def test_wrong_buffer_types_are_clear_errors() -> None:
    with pytest.raises(TypeError, match="int16"):
        g711.ulaw_encode(np.zeros(4, np.float32))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        g711.ulaw_decode("text")  # type: ignore[arg-type]


@pytest.mark.parametrize("law", LAWS)
def test_encode_and_decode_release_the_gil(law: str) -> None:
    encode, decode = LAWS[law]
    pcm = np.tile(ALL_S16, 64).tobytes()  # 8 MiB
    codes = encode(pcm)
    assert prove_gil_released(lambda: encode(pcm)).released
    assert prove_gil_released(lambda: decode(codes)).released
