"""native.convert against the plain-numpy reference, bit for bit.

Lengths straddle the compiler's vector widths (8/16/32 lanes) and a 10 ms
frame (480 samples at 48 kHz) so both the vector body and the scalar tail run.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
import pytest

from native import convert
from tests.native.gil import prove_gil_released
from tests.reference import convert_ref

LENGTHS = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 479, 480, 481]
SEED = 20240607


@pytest.fixture
def rng() -> np.random.Generator:
    print(f"rng seed {SEED}")
    return np.random.default_rng(SEED)


def random_s16(rng: np.random.Generator, n: int) -> bytes:
    """Full-scale int16 with both extremes planted when there is room."""
    x = rng.integers(-32768, 32768, n, dtype=np.int16)
    if n >= 2:
        x[0], x[-1] = -32768, 32767
    return x.tobytes()


def f32_out(n: int) -> npt.NDArray[np.float32]:
    """An output array one longer than needed, tail poisoned to catch overruns."""
    return np.full(n + 1, np.float32(7.0))


def random_splits(rng: np.random.Generator, total: int) -> list[int]:
    """Cut points splitting ``total`` items into random pieces (empty pieces too)."""
    cuts = sorted(rng.integers(0, total + 1, rng.integers(0, 12)).tolist())
    return [0, *cuts, total]


# --- s16_to_f32 -------------------------------------------------------------


@pytest.mark.parametrize("n", LENGTHS)
def test_s16_to_f32_matches_reference(rng: np.random.Generator, n: int) -> None:
    pcm = random_s16(rng, n)
    out = f32_out(n)
    assert convert.s16_to_f32(pcm, out) == n
    expected = convert_ref.s16_to_f32(pcm)
    assert out[:n].tobytes() == expected.tobytes()
    assert out[n] == 7.0, "wrote past the sample count"


def test_s16_to_f32_exact_at_extremes() -> None:
    pcm = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    out = np.empty(5, dtype=np.float32)
    convert.s16_to_f32(pcm, out)
    assert out.tolist() == [-1.0, -1 / 32768, 0.0, 1 / 32768, 32767 / 32768]


def test_s16_to_f32_accepts_every_buffer_kind(rng: np.random.Generator) -> None:
    pcm = random_s16(rng, 481)
    expected = convert_ref.s16_to_f32(pcm)
    unaligned = bytearray(b"\x00" + pcm)
    sources: list[object] = [
        pcm,
        bytearray(pcm),
        memoryview(pcm),
        np.frombuffer(pcm, dtype=np.int16),
        np.frombuffer(pcm, dtype="<i2"),
        np.frombuffer(pcm, dtype=np.uint8),
        memoryview(unaligned)[1:],  # odd address: the byte-wise loads must cope
    ]
    for src in sources:
        out = np.zeros(481, dtype=np.float32)
        assert convert.s16_to_f32(src, out) == 481  # type: ignore[arg-type]
        assert out.tobytes() == expected.tobytes(), type(src)


def test_s16_to_f32_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="even byte count"):
        convert.s16_to_f32(b"\x00\x01\x02", np.zeros(4, dtype=np.float32))
    with pytest.raises(ValueError, match="out holds 2 samples; src has 3"):
        convert.s16_to_f32(bytes(6), np.zeros(2, dtype=np.float32))
    with pytest.raises(ValueError):  # float64 is not float32
        convert.s16_to_f32(bytes(6), np.zeros(3, dtype=np.float64))
    with pytest.raises(TypeError, match="little-endian int16"):
        convert.s16_to_f32(np.zeros(3, dtype=np.float32), np.zeros(6, dtype=np.float32))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="little-endian int16"):
        convert.s16_to_f32(np.zeros(3, dtype=">i2"), np.zeros(3, dtype=np.float32))


# --- f32_to_s16 -------------------------------------------------------------

# The documented rule, spelled out: scale by 32768, clip, round half to even.
ROUNDING_CASES = [
    (0.5, 0),
    (1.5, 2),
    (2.5, 2),
    (-0.5, 0),
    (-1.5, -2),
    (-2.5, -2),
    (0.49, 0),
    (0.51, 1),
    (-0.51, -1),
    (32766.5, 32766),
    (32767.0, 32767),
    (32767.5, 32767),  # clipped before rounding
    (32768.0, 32767),  # x = 1.0
    (-32768.0, -32768),
    (-32768.5, -32768),
    (1e9, 32767),
    (-1e9, -32768),
]


def test_f32_to_s16_rounding_rule() -> None:
    scaled, expected = zip(*ROUNDING_CASES, strict=True)
    x = (np.array(scaled, dtype=np.float64) / 32768).astype(np.float32)
    specials = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0], dtype=np.float32)
    x = np.concatenate([x, specials])
    out = np.full(x.size, 99, dtype=np.int16)
    assert convert.f32_to_s16(x, out) == x.size
    assert out.tolist() == [*expected, 0, 0, 32767, -32768, 0, 0]
    assert out.tobytes() == convert_ref.f32_to_s16(x)


@pytest.mark.parametrize("n", LENGTHS)
def test_f32_to_s16_matches_reference(rng: np.random.Generator, n: int) -> None:
    x = rng.uniform(-1.2, 1.2, n).astype(np.float32)
    if n >= 4:
        x[: n // 4] = np.round(x[: n // 4] * 32768 * 2) / 2 / 32768  # many exact ties
    if n >= 3:
        x[-1], x[-2] = np.nan, np.inf
    out = bytearray(b"\xaa" * (2 * n + 2))
    assert convert.f32_to_s16(x, out) == n
    assert bytes(out[: 2 * n]) == convert_ref.f32_to_s16(x)
    assert out[2 * n :] == b"\xaa\xaa", "wrote past the sample count"


def test_s16_round_trip_is_identity_for_every_value() -> None:
    every = np.arange(-32768, 32768, dtype=np.int16)
    floats = np.empty(every.size, dtype=np.float32)
    back = np.empty(every.size, dtype=np.int16)
    convert.s16_to_f32(every, floats)
    convert.f32_to_s16(floats, back)
    assert np.array_equal(back, every)


def test_f32_to_s16_rejects_bad_arguments() -> None:
    x = np.zeros(4, dtype=np.float32)
    with pytest.raises(ValueError, match="out holds 3 int16 samples; src has 4"):
        convert.f32_to_s16(x, bytearray(6))
    with pytest.raises(TypeError, match="writable"):
        convert.f32_to_s16(x, bytes(8))
    with pytest.raises(TypeError, match="little-endian int16"):
        convert.f32_to_s16(x, np.zeros(4, dtype=np.float32))  # type: ignore[arg-type]
    with pytest.raises(ValueError):  # float64 source
        convert.f32_to_s16(np.zeros(4), bytearray(8))  # type: ignore[arg-type]


# --- downmix_s16 ------------------------------------------------------------


@pytest.mark.parametrize("channels", range(1, 9))
@pytest.mark.parametrize("frames", [0, 1, 15, 16, 17, 479, 480, 481])
def test_downmix_matches_reference(rng: np.random.Generator, channels: int, frames: int) -> None:
    pcm = random_s16(rng, frames * channels)
    out = np.full(frames + 1, 99, dtype=np.int16)
    assert convert.downmix_s16(pcm, channels, out) == frames
    assert out[:frames].tobytes() == convert_ref.downmix_s16(pcm, channels)
    assert out[frames] == 99, "wrote past the frame count"


def test_downmix_rounds_ties_to_even() -> None:
    stereo = np.array(
        [
            [-1, 0],
            [1, 0],
            [1, 2],
            [-3, 0],
            [3, 0],
            [-32768, -32768],
            [32767, 32767],
            [-32768, 32767],
        ],
        dtype=np.int16,
    )
    out = np.empty(len(stereo), dtype=np.int16)
    convert.downmix_s16(stereo, 2, out)  # a 2-D interleaved array is accepted
    assert out.tolist() == [0, 0, 2, -2, 2, -32768, 32767, 0]
    six = np.array([[3, 0, 0, 0, 0, 0], [9, 0, 0, 0, 0, 0], [-3, 0, 0, 0, 0, 0]], dtype=np.int16)
    out6 = np.empty(3, dtype=np.int16)
    convert.downmix_s16(six, 6, out6)
    assert out6.tolist() == [0, 2, 0]  # 0.5 -> 0, 1.5 -> 2, -0.5 -> 0


@pytest.mark.parametrize("channels", [1, 2, 3, 8])
def test_downmix_in_place(rng: np.random.Generator, channels: int) -> None:
    pcm = random_s16(rng, 481 * channels)
    buf = bytearray(pcm)
    assert convert.downmix_s16(buf, channels, buf) == 481
    assert bytes(buf[: 2 * 481]) == convert_ref.downmix_s16(pcm, channels)


def test_downmix_rejects_bad_arguments() -> None:
    for channels in (0, 9, -1):
        with pytest.raises(ValueError, match=r"channels must be 1\.\.8"):
            convert.downmix_s16(bytes(16), channels, bytearray(16))
    with pytest.raises(ValueError, match="not a whole number of 2-channel"):
        convert.downmix_s16(bytes(6), 2, bytearray(6))
    with pytest.raises(ValueError, match="not a whole number of 1-channel"):
        convert.downmix_s16(bytes(5), 1, bytearray(6))
    with pytest.raises(ValueError, match="out holds 1 int16 samples; src has 2 frames"):
        convert.downmix_s16(bytes(8), 2, bytearray(2))
    with pytest.raises(TypeError, match="writable"):
        convert.downmix_s16(bytes(8), 2, bytes(4))


# --- gain_s16 ---------------------------------------------------------------


@pytest.mark.parametrize("gain", [0.0, 0.5, 1.0, 1.5, -1.0, 2.0, 1e6, -1e-3, 1 / 3])
@pytest.mark.parametrize("n", [0, 1, 17, 480])
def test_gain_matches_reference(rng: np.random.Generator, gain: float, n: int) -> None:
    pcm = random_s16(rng, n)
    buf = np.frombuffer(pcm, dtype=np.int16).copy()
    assert convert.gain_s16(buf, gain) == n
    assert buf.tobytes() == convert_ref.gain_s16(pcm, gain)


def test_gain_clips_and_rounds() -> None:
    buf = bytearray(np.array([-32768, 32767, 1, 3, -1, -3, 100], dtype=np.int16).tobytes())
    convert.gain_s16(buf, -1.0)
    assert np.frombuffer(buf, dtype=np.int16).tolist() == [32767, -32767, -1, -3, 1, 3, -100]
    convert.gain_s16(buf, 0.5)  # -0.5 -> 0, -1.5 -> -2, 0.5 -> 0, 1.5 -> 2
    assert np.frombuffer(buf, dtype=np.int16).tolist() == [16384, -16384, 0, -2, 0, 2, -50]


def test_gain_rejects_bad_arguments() -> None:
    for gain in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="gain must be finite"):
            convert.gain_s16(bytearray(4), gain)
    with pytest.raises(ValueError, match="even byte count"):
        convert.gain_s16(bytearray(3), 1.0)
    with pytest.raises(TypeError, match="writable"):
        convert.gain_s16(bytes(4), 1.0)


# --- rms_peak_s16 -----------------------------------------------------------


@pytest.mark.parametrize("n", LENGTHS)
def test_rms_peak_matches_reference(rng: np.random.Generator, n: int) -> None:
    pcm = random_s16(rng, n)
    rms, peak = convert.rms_peak_s16(pcm)
    ref_rms, ref_peak = convert_ref.rms_peak_s16(pcm)
    assert rms == ref_rms
    assert peak == ref_peak
    assert isinstance(peak, int)


def test_rms_peak_known_signals() -> None:
    assert convert.rms_peak_s16(b"") == (0.0, 0)
    assert convert.rms_peak_s16(np.array([-32768], dtype=np.int16)) == (32768.0, 32768)
    assert convert.rms_peak_s16(np.full(480, -1000, dtype=np.int16)) == (1000.0, 1000)
    square = np.tile(np.array([3, -4], dtype=np.int16), 240)  # mean square 12.5
    assert convert.rms_peak_s16(square) == (math.sqrt(12.5), 4)
    with pytest.raises(ValueError, match="even byte count"):
        convert.rms_peak_s16(b"\x00")


# --- chunked vs one-shot ----------------------------------------------------


def test_random_chunkings_equal_one_shot(rng: np.random.Generator) -> None:
    samples, channels = 4801, 3
    pcm = random_s16(rng, samples * channels)
    whole_f32 = np.empty(samples * channels, dtype=np.float32)
    convert.s16_to_f32(pcm, whole_f32)
    whole_s16 = bytearray(2 * samples * channels)
    convert.f32_to_s16(whole_f32, whole_s16)
    whole_mono = bytearray(2 * samples)
    convert.downmix_s16(pcm, channels, whole_mono)
    for trial in range(20):
        cuts = random_splits(rng, samples)
        f32 = np.empty_like(whole_f32)
        s16 = bytearray(len(whole_s16))
        mono = bytearray(len(whole_mono))
        for a, b in itertools.pairwise(cuts):
            lo, hi = a * channels, b * channels
            convert.s16_to_f32(pcm[2 * lo : 2 * hi], f32[lo:hi])
            convert.f32_to_s16(f32[lo:hi], memoryview(s16)[2 * lo : 2 * hi])
            convert.downmix_s16(pcm[2 * lo : 2 * hi], channels, memoryview(mono)[2 * a : 2 * b])
        assert f32.tobytes() == whole_f32.tobytes(), f"trial {trial} cuts {cuts}"
        assert s16 == whole_s16, f"trial {trial} cuts {cuts}"
        assert mono == whole_mono, f"trial {trial} cuts {cuts}"
    assert bytes(whole_s16) == pcm  # and the float round trip was lossless


# --- the GIL is released ----------------------------------------------------


def test_s16_to_f32_releases_the_gil() -> None:
    # 256k samples (~80 us a call), 100 calls a proof attempt (see tests/native/gil.py).
    samples = 1 << 18
    pcm = np.full(samples, -16384, dtype=np.int16).tobytes()
    out = np.empty(samples, dtype=np.float32)

    def calls() -> None:
        for _ in range(100):
            convert.s16_to_f32(pcm, out)

    proof = prove_gil_released(calls)
    print(f"proved at attempt {proof.proved_at}")
    assert proof.released
    assert (out == -0.5).all()
