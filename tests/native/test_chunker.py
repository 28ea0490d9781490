"""native.chunker.Chunker against the reference, asserting the whole state each step."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from native.chunker import Chunker
from tests.native.gil import prove_gil_released
from tests.reference.chunker_ref import ChunkerRef

SEED = 20240608
CHUNK = 480  # 10 ms at 48 kHz


@pytest.fixture
def rng() -> np.random.Generator:
    print(f"rng seed {SEED}")
    return np.random.default_rng(SEED)


def ramp(start: int, n: int) -> bytes:
    """Samples start, start+1, ... (wrapping in int16): every position is recognisable."""
    return ((np.arange(start, start + n) + 32768) % 65536 - 32768).astype("<i2").tobytes()


def assert_state(chunker: Chunker, available: int, dropped: int) -> None:
    assert (chunker.available, chunker.dropped_samples) == (available, dropped)


def test_constructor_validates_and_reports() -> None:
    chunker = Chunker(CHUNK, 4 * CHUNK)
    assert (chunker.chunk_samples, chunker.capacity_samples) == (CHUNK, 4 * CHUNK)
    assert_state(chunker, 0, 0)
    assert Chunker(chunk_samples=1, capacity_samples=1).chunk_samples == 1
    with pytest.raises(ValueError, match="chunk_samples must be >= 1, got 0"):
        Chunker(0, 10)
    with pytest.raises(ValueError, match=r"capacity_samples must be >= chunk_samples \(10\)"):
        Chunker(10, 9)


@pytest.mark.parametrize("n", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK])
def test_push_edge_lengths(n: int) -> None:
    chunker = Chunker(CHUNK, 4 * CHUNK)
    out = np.full(CHUNK, 99, dtype=np.int16)
    assert chunker.push(ramp(0, n)) == 0
    assert_state(chunker, n, 0)
    popped = 0
    while chunker.pop(out):
        assert out.tobytes() == ramp(popped * CHUNK, CHUNK)
        popped += 1
    assert popped == n // CHUNK
    assert_state(chunker, n % CHUNK, 0)
    before = out.copy()
    assert chunker.pop(out) is False
    assert np.array_equal(out, before), "a failed pop must leave out untouched"


@pytest.mark.parametrize("rest", [0, 1, CHUNK - 1])
def test_pop_partial_zero_pads(rest: int) -> None:
    chunker = Chunker(CHUNK, 2 * CHUNK)
    chunker.push(ramp(1, CHUNK + rest))
    out = bytearray(b"\x55" * (2 * CHUNK + 4))
    assert chunker.pop(out)
    out[:] = b"\x55" * len(out)
    assert chunker.pop_partial(out) == rest
    assert bytes(out[: 2 * rest]) == ramp(1 + CHUNK, rest)
    assert bytes(out[2 * rest : 2 * CHUNK]) == bytes(2 * (CHUNK - rest))
    assert bytes(out[2 * CHUNK :]) == b"\x55" * 4, "padding must stop at one chunk"
    assert_state(chunker, 0, 0)


def test_pop_partial_with_a_full_chunk_buffered_acts_as_pop() -> None:
    chunker = Chunker(CHUNK, 4 * CHUNK)
    chunker.push(ramp(0, CHUNK + 7))
    out = np.empty(CHUNK, dtype=np.int16)
    assert chunker.pop_partial(out) == CHUNK
    assert out.tobytes() == ramp(0, CHUNK)
    assert_state(chunker, 7, 0)


def test_full_ring_drops_the_new_excess() -> None:
    chunker = Chunker(4, 10)
    assert chunker.push(ramp(0, 7)) == 0
    assert chunker.push(ramp(7, 5)) == 2  # only 3 fit: 7, 8, 9 kept; 10, 11 dropped
    assert_state(chunker, 10, 2)
    assert chunker.push(ramp(100, 3)) == 3  # full: all of it dropped
    assert_state(chunker, 10, 5)
    out = np.empty(4, dtype=np.int16)
    assert chunker.pop(out)
    assert out.tolist() == [0, 1, 2, 3]
    assert chunker.push(ramp(200, 6)) == 2  # wraps around the ring's end
    assert_state(chunker, 10, 7)
    got = []
    while chunker.pop(out):
        got += out.tolist()
    assert got == [4, 5, 6, 7, 8, 9, 200, 201]
    assert chunker.pop_partial(out) == 2
    assert out.tolist() == [202, 203, 0, 0]
    assert_state(chunker, 0, 7)


def test_reset_clears_audio_and_drop_count() -> None:
    chunker = Chunker(4, 4)
    chunker.push(ramp(0, 6))
    assert_state(chunker, 4, 2)
    chunker.reset()
    assert_state(chunker, 0, 0)
    chunker.push(ramp(50, 4))
    out = np.empty(4, dtype=np.int16)
    assert chunker.pop(out)
    assert out.tolist() == [50, 51, 52, 53]


def test_bad_arguments_change_nothing() -> None:
    chunker = Chunker(4, 8)
    chunker.push(ramp(0, 5))
    with pytest.raises(ValueError, match="pcm has 3 bytes; int16 PCM needs an even byte count"):
        chunker.push(b"\x01\x02\x03")
    with pytest.raises(ValueError, match="out holds 3 int16 samples; a chunk is 4"):
        chunker.pop(bytearray(6))
    with pytest.raises(ValueError, match="out holds 3 int16 samples; a chunk is 4"):
        chunker.pop(bytearray(7))
    with pytest.raises(ValueError, match="out holds 0 int16 samples; a chunk is 4"):
        chunker.pop_partial(bytearray())
    with pytest.raises(TypeError, match="writable"):
        chunker.pop(bytes(8))
    with pytest.raises(TypeError, match="little-endian int16"):
        chunker.push(np.zeros(4, dtype=np.float32))  # type: ignore[arg-type]
    assert_state(chunker, 5, 0)
    out = np.empty(4, dtype=np.int16)
    assert chunker.pop(out)
    assert out.tolist() == [0, 1, 2, 3]


def test_accepts_every_buffer_kind() -> None:
    chunker = Chunker(4, 64)
    unaligned = bytearray(b"\x00" + ramp(4, 4))
    for src in (
        ramp(0, 4),
        memoryview(unaligned)[1:],  # odd address
        bytearray(ramp(8, 4)),
        np.arange(12, 16, dtype=np.int16),
    ):
        assert chunker.push(src) == 0
    outs: list[object] = [
        np.empty(4, dtype=np.int16),
        bytearray(8),
        memoryview(bytearray(9))[1:],
        np.empty(8, dtype=np.uint8),
    ]
    got: list[int] = []
    for out in outs:
        assert chunker.pop(out)  # type: ignore[arg-type]
        got += np.frombuffer(bytes(out), dtype="<i2").tolist()  # type: ignore[call-overload]
    assert got == list(range(16))


@pytest.mark.parametrize("capacity", [CHUNK, CHUNK + 1, 3 * CHUNK - 1, 8 * CHUNK])
def test_random_pushes_match_reference_and_one_shot(
    rng: np.random.Generator, capacity: int
) -> None:
    total = 40 * CHUNK + 17
    stream = rng.integers(-32768, 32768, total, dtype=np.int16).tobytes()
    chunker, ref = Chunker(CHUNK, capacity), ChunkerRef(CHUNK, capacity)
    out = np.empty(CHUNK, dtype=np.int16)
    emitted: list[bytes] = []
    pos = 0
    while pos < total:
        # Pushes of 0 .. 1.5 chunks, and pops in bursts, so the ring fills,
        # wraps at every offset, and sometimes overflows.
        size = int(rng.integers(0, CHUNK + CHUNK // 2 + 1))
        piece = stream[2 * pos : 2 * (pos + size)]
        pos += size
        assert chunker.push(piece) == ref.push(piece)
        for _ in range(int(rng.integers(0, 3))):
            expected = ref.pop()
            assert chunker.pop(out) == (expected is not None)
            if expected is not None:
                assert np.array_equal(out, expected)
                emitted.append(out.tobytes())
        assert (chunker.available, chunker.dropped_samples) == (ref.available, ref.dropped_samples)
    while chunker.pop(out):
        emitted.append(out.tobytes())
    _partial, _real = ref.pop_partial()
    while ref.pop() is not None:
        pass
    tail = np.empty(CHUNK, dtype=np.int16)
    n = chunker.pop_partial(tail)
    emitted.append(tail[:n].tobytes())
    if chunker.dropped_samples == 0:
        # Nothing dropped: the chunks concatenate back to the exact stream.
        assert b"".join(emitted) == stream
    else:
        # Something dropped: the chunks are the stream minus the dropped tails.
        assert len(b"".join(emitted)) == 2 * (total - chunker.dropped_samples)
    assert_state(chunker, 0, ref.dropped_samples)


def test_chunked_pushes_equal_one_shot(rng: np.random.Generator) -> None:
    """Any way of splitting a stream yields the same chunks as one push."""
    total = 20 * CHUNK + CHUNK - 1
    stream = rng.integers(-32768, 32768, total, dtype=np.int16).tobytes()

    def drain(chunker: Chunker) -> bytes:
        out, got = np.empty(CHUNK, dtype=np.int16), bytearray()
        while chunker.pop(out):
            got += out.tobytes()
        n = chunker.pop_partial(out)
        return bytes(got + out[:n].tobytes())

    one_shot = Chunker(CHUNK, total)
    one_shot.push(stream)
    expected = drain(one_shot)
    assert expected == stream
    for trial in range(20):
        cuts = sorted({0, total, *rng.integers(0, total + 1, 10).tolist()})
        chunker = Chunker(CHUNK, total)
        for a, b in itertools.pairwise(cuts):
            assert chunker.push(stream[2 * a : 2 * b]) == 0
        assert drain(chunker) == expected, f"trial {trial} cuts {cuts}"


# --- the GIL is released ----------------------------------------------------


def test_push_pop_releases_the_gil() -> None:
    # 128k-sample chunks (256 KiB): each copy takes tens of microseconds, 100 push/pop
    # pairs a proof attempt (see tests/native/gil.py).
    chunk = 1 << 17
    chunker = Chunker(chunk, chunk)
    pcm = bytes(range(256)) * (2 * chunk // 256)
    out = bytearray(2 * chunk)
    popped = [0]

    def calls() -> None:
        for _ in range(100):
            chunker.push(pcm)
            popped[0] += chunker.pop(out)

    proof = prove_gil_released(calls)
    print(f"proved at attempt {proof.proved_at}")
    assert proof.released
    assert popped[0] == 100 * proof.attempts and out == pcm  # whole chunks, nothing dropped
    assert_state(chunker, 0, 0)
