"""native.resample against the numpy reference, soxr, and its own quality guarantees.

Quality is checked twice: on the designed response (every pair, dense FFT
grid) and on the running kernel (tones, a sweep, speech). Signals are seeded
and the seed printed.
"""

from __future__ import annotations

import itertools
import math
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soxr
from scipy.signal.windows import flattop

from native.resample import BLOCK_SAMPLES, SUPPORTED_RATES, Resampler, resample_s16
from native.resample_design import design
from tests.native.gil import prove_gil_released
from tests.reference import resample_ref

SEED = 20251125
PAIRS = [(a, b) for a, b in itertools.product(SUPPORTED_RATES, repeat=2) if a != b]
HOT_PAIRS = [(44100, 24000), (48000, 24000), (24000, 44100), (24000, 48000), (48000, 16000)]
SPEECH = Path(__file__).parents[2] / "examples" / "audio" / "three_turns.wav"
F32 = npt.NDArray[np.float32]


@pytest.fixture
def rng() -> np.random.Generator:
    print(f"rng seed {SEED}")
    return np.random.default_rng(SEED)


def stream_f32(r: Resampler, x: F32, cuts: list[int] | None = None) -> F32:
    """Everything ``r`` emits for ``x`` fed in pieces ending at ``cuts``, then flushed."""
    pieces: list[F32] = []
    start = 0
    for end in [*(cuts or []), x.size]:
        out = np.full(r.max_output(end - start) + 1, np.float32(7.0))
        n = r.process_f32(x[start:end], out)
        assert out[-1] == 7.0, "wrote past max_output"
        pieces.append(out[:n])
        start = end
    tail = np.empty(r.delay_samples, dtype=np.float32)
    pieces.append(tail[: r.flush_f32(tail)])
    return np.concatenate(pieces).astype(np.float32)


def stream_s16(r: Resampler, pcm: bytes, cuts: list[int] | None = None) -> npt.NDArray[np.int16]:
    got = bytearray()
    start = 0
    for end in [*(cuts or []), len(pcm) // 2]:
        out = bytearray(2 * r.max_output(end - start))
        n = r.process_s16(pcm[2 * start : 2 * end], out)
        got += out[: 2 * n]
        start = end
    tail = np.empty(r.delay_samples, dtype=np.int16)
    got += tail[: r.flush_s16(tail)].tobytes()
    return np.frombuffer(bytes(got), dtype="<i2")


def bandlimited_noise(rng: np.random.Generator, n: int, rate: int, top: float) -> F32:
    """White noise with everything above ``top`` Hz removed (FFT mask), peak 0.5."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[np.fft.rfftfreq(n, 1 / rate) > top] = 0
    x: npt.NDArray[np.float64] = np.fft.irfft(spectrum, n)
    scaled: npt.NDArray[np.float64] = x * (0.5 / float(np.abs(x).max()))
    return scaled.astype(np.float32)


def steady(y: npt.NDArray[np.generic], r: Resampler) -> npt.NDArray[np.float64]:
    """``y`` without the filter's run-up and run-out (one delay, doubled, each end)."""
    edge = 2 * r.delay_samples + 2
    return np.asarray(y[edge:-edge], dtype=np.float64)


# --- construction and contract ------------------------------------------------


def test_constructor_validates_and_reports() -> None:
    assert SUPPORTED_RATES == (8000, 16000, 22050, 24000, 32000, 44100, 48000)
    r = Resampler(44100, 24000)
    assert (r.in_rate, r.out_rate) == (44100, 24000)
    assert r.delay_ms == pytest.approx(1000 * r.delay_samples / 24000)
    assert r.held_back == 0
    assert r.max_output(0) == 0 and r.max_output(441) == 240 and r.max_output(1) == 1
    with pytest.raises(ValueError, match=r"in_rate must be one of \(8000, .*got 11025"):
        Resampler(11025, 16000)
    with pytest.raises(ValueError, match=r"out_rate must be one of .* got 96000"):
        Resampler(16000, 96000)
    with pytest.raises(ValueError, match="n_in must be >= 0"):
        r.max_output(-1)


def test_bad_buffers_raise_and_change_nothing() -> None:
    r = Resampler(48000, 24000)
    with pytest.raises(ValueError, match="pcm has 3 bytes"):
        r.process_s16(b"\x00\x01\x02", bytearray(4))
    with pytest.raises(ValueError, match=r"out holds 1 samples; max_output\(4\) is 2"):
        r.process_s16(bytes(8), bytearray(2))
    with pytest.raises(ValueError, match=r"out holds 0 samples; max_output\(4\) is 2"):
        r.process_f32(np.zeros(4, np.float32), np.zeros(0, np.float32))
    with pytest.raises(TypeError, match="writable"):
        r.process_s16(bytes(8), bytes(8))
    with pytest.raises(TypeError, match="float32"):
        r.process_f32(np.zeros(4, np.float64), np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="float32"):
        r.process_f32(bytes(16), np.zeros(4, np.float32))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="little-endian int16"):
        r.process_s16(np.zeros(4, np.float32), bytearray(8))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"flush writes delay_samples \(30\)"):
        r.flush_s16(bytearray(2))
    assert r.held_back == 0
    # The stream is untouched: a full run still equals the reference.
    x = np.sin(np.arange(1000) / 7).astype(np.float32)
    assert np.allclose(stream_f32(r, x), resample_ref.resample(x, 48000, 24000), atol=1e-6)


def test_accepts_every_buffer_kind(rng: np.random.Generator) -> None:
    """bytes, odd-address memoryviews, bytearrays and arrays, in and out: same result."""
    pcm = rng.integers(-32768, 32768, 960, dtype=np.int16).tobytes()
    expected = stream_s16(Resampler(48000, 24000), pcm)[:480].tobytes()
    unaligned_in = bytearray(b"\x00" + pcm)
    sources: list[object] = [pcm, memoryview(unaligned_in)[1:], bytearray(pcm)]
    sources.append(np.frombuffer(pcm, dtype=np.int16))
    for src in sources:
        for out in (
            bytearray(960),
            memoryview(bytearray(961))[1:],
            np.empty(480, dtype=np.int16),
            np.empty(960, dtype=np.uint8),
        ):
            r = Resampler(48000, 24000)
            assert r.process_s16(src, out) == 480  # type: ignore[arg-type]
            assert bytes(out) == expected


@pytest.mark.parametrize("rate", SUPPORTED_RATES)
def test_same_rate_is_an_exact_copy(rate: int) -> None:
    r = Resampler(rate, rate)
    assert (r.delay_ms, r.delay_samples, r.max_output(5)) == (0.0, 0, 5)
    pcm = np.array([0, 1, -1, 32767, -32768], dtype=np.int16).tobytes()
    out = bytearray(10)
    assert r.process_s16(pcm, out) == 5 and bytes(out) == pcm
    assert r.held_back == 0
    assert r.flush_s16(bytearray()) == 0
    x = np.array([0.5, -1e-30, np.inf], dtype=np.float32)
    y = np.zeros(3, np.float32)
    assert r.process_f32(x, y) == 3 and y.tobytes() == x.tobytes()
    assert resample_s16(pcm, rate, rate) == pcm


def test_held_back_and_flush_account_for_every_sample() -> None:
    r = Resampler(48000, 16000)
    d = r.delay_samples
    frame = np.zeros(480, dtype=np.int16)
    out = np.empty(r.max_output(480), dtype=np.int16)
    assert r.process_s16(frame[:10], out) == 4  # ceil(10 / 3); all run-up: held_back is 10
    assert r.held_back == 10
    total_in, total_out = 10, 4
    for _ in range(5):
        total_out += r.process_s16(frame, out)
        total_in += 480
        # Steady state: the filter's delay worth of input, give or take a phase.
        assert abs(r.held_back - d * 3) <= 3, r.held_back
    assert total_out == math.ceil(total_in / 3)
    assert r.flush_s16(out) == d
    assert r.held_back == 0
    assert r.flush_s16(out) == 0, "nothing fed since the flush: nothing to emit"


# --- the kernel against the reference ----------------------------------------


@pytest.mark.parametrize(("in_rate", "out_rate"), PAIRS)
def test_matches_reference_every_pair(
    rng: np.random.Generator, in_rate: int, out_rate: int
) -> None:
    n = in_rate // 10 + 3
    x = rng.uniform(-1, 1, n).astype(np.float32)
    expected = resample_ref.resample(x, in_rate, out_rate)
    got = stream_f32(Resampler(in_rate, out_rate), x)
    delay = Resampler(in_rate, out_rate).delay_samples
    assert got.size == expected.size == math.ceil(n * out_rate / in_rate) + delay
    assert np.max(np.abs(got - expected)) < 1e-6
    pcm = (x * 32767).astype(np.int16)
    expected16 = np.clip(np.rint(resample_ref.resample(pcm, in_rate, out_rate)), -32768, 32767)
    got16 = stream_s16(Resampler(in_rate, out_rate), pcm.tobytes())
    assert np.max(np.abs(got16.astype(np.int64) - expected16)) <= 1


@pytest.mark.parametrize(("in_rate", "out_rate"), [*HOT_PAIRS, (16000, 24000), (8000, 44100)])
def test_chunking_does_not_change_the_output(
    rng: np.random.Generator, in_rate: int, out_rate: int
) -> None:
    n = 3 * in_rate + 17
    x = bandlimited_noise(rng, n, in_rate, 0.45 * in_rate)
    pcm = (x * 32767).astype(np.int16).tobytes()
    whole_f32 = stream_f32(Resampler(in_rate, out_rate), x)
    whole_s16 = stream_s16(Resampler(in_rate, out_rate), pcm)
    for trial in range(3):
        # Piece sizes from 1 sample to 1 s, log-uniform so tiny pieces occur too.
        sizes = np.exp(rng.uniform(0, math.log(in_rate), 400)).astype(int)
        cuts = [c for c in np.cumsum(sizes).tolist() if c < n]
        print(f"trial {trial}: {len(cuts) + 1} pieces, first sizes {sizes[:8].tolist()}")
        assert np.array_equal(stream_f32(Resampler(in_rate, out_rate), x, cuts), whole_f32)
        assert np.array_equal(stream_s16(Resampler(in_rate, out_rate), pcm, cuts), whole_s16)


EDGE_LENGTHS = [
    0,
    1,
    2,
    146,
    147,
    148,
    479,
    480,
    481,
    BLOCK_SAMPLES - 1,
    BLOCK_SAMPLES,
    BLOCK_SAMPLES + 1,
    2 * BLOCK_SAMPLES + 1,
]


@pytest.mark.parametrize("n", EDGE_LENGTHS)
def test_edge_lengths(rng: np.random.Generator, n: int) -> None:
    for in_rate, out_rate in [(44100, 24000), (24000, 48000)]:
        x = rng.uniform(-1, 1, n).astype(np.float32)
        r = Resampler(in_rate, out_rate)
        got = stream_f32(r, x, cuts=[n // 3])
        expected = resample_ref.resample(x, in_rate, out_rate)
        assert (
            got.size
            == expected.size
            == (math.ceil(n * out_rate / in_rate) + (r.delay_samples if n else 0))
        )
        assert np.allclose(got, expected, atol=1e-6, rtol=0)


def test_reset_starts_a_fresh_stream(rng: np.random.Generator) -> None:
    x = rng.uniform(-1, 1, 3000).astype(np.float32)
    r = Resampler(48000, 44100)
    r.process_f32(x[:1234], np.empty(r.max_output(1234), np.float32))
    r.reset()
    assert r.held_back == 0
    assert np.array_equal(stream_f32(r, x), stream_f32(Resampler(48000, 44100), x))


# --- frequency response -------------------------------------------------------


@pytest.mark.parametrize(("in_rate", "out_rate"), PAIRS)
def test_designed_response_meets_the_spec(in_rate: int, out_rate: int) -> None:
    """Dense grid over the whole fine-rate band: 0.1 dB passband, 70 dB stopband."""
    filt = design(in_rate, out_rate)
    fine_rate = filt.up * in_rate
    n_fft = 1 << 21
    gain = np.abs(np.fft.rfft(filt.taps / filt.up, n_fft))
    freq = np.fft.rfftfreq(n_fft, 1 / fine_rate)
    edge = min(in_rate, out_rate) / 2
    passband_db = 20 * np.log10(gain[freq <= 0.9 * edge])
    stopband_db = 20 * np.log10(gain[freq >= edge].max())
    print(f"ripple {passband_db.min():.3f}..{passband_db.max():.3f} dB, stop {stopband_db:.1f}")
    assert np.abs(passband_db).max() <= 0.1
    assert stopband_db <= -70


def spurs_db(y: npt.NDArray[np.float64], rate: int, tone: float | None) -> float:
    """Highest spectral peak of ``y`` in dB re. amplitude 1, away from ``tone`` (Hz).

    A flat-top window reads a sine's amplitude within 0.02 dB wherever it falls
    between bins, and its sidelobes (-93 dB) keep the tone out of the other bins.
    """
    window = flattop(y.size, sym=False)
    spectrum = np.abs(np.fft.rfft(y * window)) * 2 / window.sum()
    freq = np.fft.rfftfreq(y.size, 1 / rate)
    if tone is not None:
        spectrum[np.abs(freq - tone) <= 6 * rate / y.size] = 0
    return float(20 * np.log10(spectrum.max() + 1e-12))


@pytest.mark.parametrize(("in_rate", "out_rate"), PAIRS)
def test_tones_pass_flat_and_nothing_aliases(in_rate: int, out_rate: int) -> None:
    """The running kernel: passband tones keep their level within 0.1 dB and every
    other spectral line (images when upsampling) is 70 dB down; tones the output
    cannot carry (above its Nyquist) leave no line above -70 dB."""
    edge = min(in_rate, out_rate) / 2
    n = in_rate // 4
    t = np.arange(n) / in_rate
    r = Resampler(in_rate, out_rate)
    for freq in np.linspace(40, 0.9 * edge, 7):
        y = steady(stream_f32(r, np.sin(2 * np.pi * freq * t).astype(np.float32)), r)
        amplitude, _ = resample_ref.tone_gain(y, freq, out_rate)
        assert abs(20 * np.log10(amplitude)) <= 0.1, f"{freq:.0f} Hz"
        assert spurs_db(y, out_rate, freq) <= -70, f"{freq:.0f} Hz"
    for freq in np.linspace(edge, in_rate / 2, 9)[:-1] + 30.0:
        if freq < out_rate / 2:
            continue  # upsampling: no input frequency lies above the output Nyquist
        folded = abs((freq + out_rate / 2) % out_rate - out_rate / 2)
        if min(folded, out_rate / 2 - folded) < 30:
            # An alias next to 0 Hz or Nyquist beats with its own mirror image,
            # which no finite window can separate; measure beside it.
            freq += 45.0
        y = steady(stream_f32(r, np.sin(2 * np.pi * freq * t).astype(np.float32)), r)
        assert spurs_db(y, out_rate, None) <= -70, f"{freq:.0f} Hz aliases"


@pytest.mark.parametrize(("in_rate", "out_rate"), [(48000, 16000), (44100, 24000), (48000, 8000)])
def test_full_scale_sweep_above_nyquist_is_silent(in_rate: int, out_rate: int) -> None:
    """A 0 dBFS int16 sweep from the output Nyquist to the input Nyquist: the output
    spectrum (Blackman-Harris, 20 ms frames) stays below -70 dBFS."""
    n = in_rate  # 1 s
    t = np.arange(n) / in_rate
    f0, f1 = out_rate / 2, in_rate / 2
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / 2)
    pcm = np.rint(32767 * np.sin(phase)).astype(np.int16).tobytes()
    r = Resampler(in_rate, out_rate)
    y = steady(stream_s16(r, pcm), r) / 32768
    frame = out_rate // 50
    window = np.blackman(frame)  # sidelobes -58 dB below a bin, on a signal < -70 dB
    frames = np.lib.stride_tricks.sliding_window_view(y, frame)[:: frame // 2]
    spectrum = np.abs(np.fft.rfft(frames * window, axis=1)) * 2 / window.sum()
    peak_db = 20 * np.log10(spectrum.max() + 1e-12)
    print(f"{in_rate}->{out_rate}: sweep output peak {peak_db:.1f} dBFS")
    assert peak_db <= -70


# --- delay ----------------------------------------------------------------------


@pytest.mark.parametrize(("in_rate", "out_rate"), PAIRS)
def test_delay_ms_is_the_measured_delay(in_rate: int, out_rate: int) -> None:
    """An impulse placed where an output sample falls comes out ``delay_samples`` later,
    and the response is symmetric about that sample (linear phase)."""
    filt = design(in_rate, out_rate)
    r = Resampler(in_rate, out_rate)
    at = 7 * filt.down  # lands exactly on output sample 7 * up
    x = np.zeros(at + 4 * in_rate // 100, np.float32)
    x[at] = 1.0
    y = stream_f32(r, x)
    peak = int(np.argmax(y))
    assert peak == 7 * filt.up + r.delay_samples
    assert r.delay_ms == pytest.approx(1000 * (peak - 7 * filt.up) / out_rate)
    side = min(peak, y.size - peak - 1, r.delay_samples)
    assert np.allclose(y[peak - side : peak], y[peak + side : peak : -1], atol=1e-6)


@pytest.mark.parametrize(("in_rate", "out_rate"), HOT_PAIRS)
def test_hot_pairs_delay_by_chirp_cross_correlation(in_rate: int, out_rate: int) -> None:
    """A band-limited chirp sampled at both rates: the cross-correlation peak of the
    output against the chirp at the output rate sits at ``delay_ms`` (<= 2 ms)."""
    r = Resampler(in_rate, out_rate)
    assert r.delay_ms <= 2.0
    top = 0.8 * min(in_rate, out_rate) / 2

    def chirp(rate: int) -> npt.NDArray[np.float64]:
        t = np.arange(int(0.2 * rate)) / rate
        return np.sin(2 * np.pi * (100 * t + (top - 100) / 0.2 * t**2 / 2)) * np.hanning(t.size)

    y = stream_f32(r, chirp(in_rate).astype(np.float32)).astype(np.float64)
    ideal = chirp(out_rate)
    corr = np.correlate(y, ideal, mode="full")[ideal.size - 1 :]
    lag = int(np.argmax(corr))
    a, b, c = corr[lag - 1 : lag + 2]
    fine_lag = lag + 0.5 * (a - c) / (a - 2 * b + c)
    measured_ms = 1000 * fine_lag / out_rate
    print(f"{in_rate}->{out_rate}: delay_ms {r.delay_ms:.3f}, measured {measured_ms:.3f}")
    assert measured_ms == pytest.approx(r.delay_ms, abs=0.01)


# --- agreement with soxr ------------------------------------------------------------


def best_correlation(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> tuple[int, float]:
    """``(lag, correlation)`` of the best alignment of ``a`` against ``b`` within +-8."""
    n = min(a.size, b.size) - 16
    scores = []
    for lag in range(-8, 9):
        x, y = a[8 + lag : 8 + lag + n], b[8 : 8 + n]
        scores.append((float(np.dot(x, y) / np.sqrt(np.dot(x, x) * np.dot(y, y))), lag))
    corr, lag = max(scores)
    return lag, corr


@pytest.mark.parametrize("out_rate", [8000, 24000, 44100, 48000])
def test_speech_agrees_with_soxr(out_rate: int) -> None:
    with wave.open(str(SPEECH)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        pcm = wav.readframes(wav.getnframes())
    ours = np.frombuffer(resample_s16(pcm, 16000, out_rate), dtype="<i2").astype(np.float64)
    theirs = soxr.resample(np.frombuffer(pcm, dtype="<i2"), 16000, out_rate).astype(np.float64)
    lag, corr = best_correlation(ours, theirs)
    print(f"16000->{out_rate}: lag {lag}, correlation {corr:.6f}")
    assert lag == 0, "both are delay-compensated: they must line up"
    assert corr >= 0.999
    assert ours.size == math.ceil(len(pcm) // 2 * out_rate / 16000)


@pytest.mark.parametrize(("in_rate", "out_rate"), HOT_PAIRS)
def test_generated_signals_agree_with_soxr(
    rng: np.random.Generator, in_rate: int, out_rate: int
) -> None:
    x = bandlimited_noise(rng, in_rate, in_rate, 0.85 * min(in_rate, out_rate) / 2)
    pcm = np.rint(x * 32767).astype(np.int16).tobytes()
    ours = np.frombuffer(resample_s16(pcm, in_rate, out_rate), dtype="<i2").astype(np.float64)
    theirs = soxr.resample(x, in_rate, out_rate).astype(np.float64) * 32767
    lag, corr = best_correlation(ours, theirs)
    print(f"{in_rate}->{out_rate}: lag {lag}, correlation {corr:.6f}")
    assert lag == 0
    assert corr >= 0.999


def test_one_shot_is_the_stream_minus_its_delay(rng: np.random.Generator) -> None:
    pcm = rng.integers(-20000, 20000, 4801, dtype=np.int16).tobytes()
    r = Resampler(48000, 44100)
    stream = stream_s16(r, pcm)
    assert resample_s16(pcm, 48000, 44100) == stream[r.delay_samples :].tobytes()
    assert resample_s16(b"", 48000, 44100) == b""
    with pytest.raises(ValueError, match="in_rate must be one of"):
        resample_s16(pcm, 12345, 16000)


# --- the GIL is released ------------------------------------------------------------


def test_other_threads_run_during_a_long_call() -> None:
    """Load-independent evidence: a Python thread runs while one call runs (with the
    GIL held it could not run a single bytecode until the call returned; see
    tests/native/gil.py), and its attempt to use the same instance meanwhile is
    refused, not raced."""
    # 2 minutes of 48 kHz down to 8 kHz (the longest filter): ~50 ms in one call.
    r = Resampler(48000, 8000)
    x = np.zeros(48000 * 120, dtype=np.float32)
    out = np.ones(r.max_output(x.size), dtype=np.float32)
    written: list[int] = []

    # The checker resets the instance: refused inside a call, harmless after one (the
    # stream is all zeros, and each call then starts from a fresh stream).
    proof = prove_gil_released(lambda: written.append(r.process_f32(x, out)), r.reset)
    print(f"proved at attempt {proof.proved_at}; checker saw {proof.probes}")
    assert proof.released
    [inside] = proof.probes_during
    assert isinstance(inside, RuntimeError)
    assert "already in use by another thread" in str(inside)
    assert proof.probes[:-1] == [None] * (proof.attempts - 1)  # after a call: accepted
    assert written[-1] == x.size // 6 and not out[: written[-1]].any()


def test_process_releases_the_gil() -> None:
    # 1 s of 48 kHz a call, 10 calls a proof attempt (see tests/native/gil.py).
    r = Resampler(48000, 16000)
    pcm = np.zeros(48000, dtype=np.int16)
    out = np.ones(r.max_output(pcm.size), dtype=np.int16)
    written: list[int] = []

    def calls() -> None:
        for _ in range(10):
            written.append(r.process_s16(pcm, out))

    proof = prove_gil_released(calls)
    print(f"proved at attempt {proof.proved_at}; written {written[:3]}")
    assert proof.released
    assert written[-1] == 16000 and not out[: written[-1]].any()
