"""native.inbound_chain.InboundChain against the separate kernels it fuses, bit for bit.

The reference is the dsp stage's former chain: ``downmix_s16`` -> ``Resampler`` ->
``Chunker`` for chunks, and a second ``Chunker`` cutting 10 ms frames for ``Vad``.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from native.chunker import Chunker
from native.convert import downmix_s16
from native.inbound_chain import EVENT_QUEUE_CAPACITY, InboundChain
from native.resample import Resampler, resample_s16
from native.vad import SPEECH_START, SPEECH_STOP, Vad
from pipeline.transports.file.wav_reader import WavSource
from tests.native.gil import prove_gil_released

SEED = 20261125
AUDIO = Path(__file__).resolve().parents[2] / "examples" / "audio"


@dataclass
class Output:
    chunks: list[bytes] = field(default_factory=list)
    events: list[tuple[int, int]] = field(default_factory=list)
    samples_out: int = 0
    held_back: int = 0


@cache
def speech(in_rate: int, channels: int) -> bytes:
    """Real speech with at least one turn, interleaved int16 at ``in_rate``."""
    if in_rate == 16000:
        with wave.open(str(AUDIO / "three_turns.wav")) as w:
            return bytes(w.readframes(16000 * 9))  # turns at 1.0 s and 6.6 s
    with WavSource.open(AUDIO / "one_turn_48k_stereo.wav") as wav:
        raw = wav.read_s16(0, wav.frames)  # a turn at 0.5 s
        assert (wav.sample_rate, wav.channels) == (48000, 2)
    if channels == 2:
        assert in_rate == 48000
        return bytes(raw)
    mono = bytearray(len(raw) // 2)
    downmix_s16(raw, 2, mono)
    return bytes(mono) if in_rate == 48000 else resample_s16(mono, 48000, in_rate)


def whole_frames(pcm: bytes, frame_bytes: int) -> bytes:
    return pcm[: len(pcm) // frame_bytes * frame_bytes]


def separate_kernels(pcm: bytes, in_rate: int, out_rate: int, channels: int,
                     vad: bool = True) -> Output:
    """The chain as three kernels, one 10 ms input frame at a time."""
    frame_in = in_rate // 100
    resampler = Resampler(in_rate, out_rate)
    chunk, vad_frame = out_rate // 10, out_rate // 100
    chunker, vad_chunker = Chunker(chunk, 50 * chunk), Chunker(vad_frame, 50 * vad_frame)
    # The chain's VAD defaults.
    detector = Vad(out_rate, 10, min_speech_ms=30, min_silence_ms=500, prefix_padding_ms=300)
    mono, out = bytearray(2 * frame_in), bytearray(2 * resampler.max_output(frame_in))
    chunk_buf, frame_buf = bytearray(2 * chunk), bytearray(2 * vad_frame)
    got = Output()
    step = 2 * channels * frame_in
    for at in range(0, len(pcm), step):
        downmix_s16(pcm[at:at + step], channels, mono)
        m = resampler.process_s16(mono, out)
        got.samples_out += m
        chunker.push(memoryview(out)[: 2 * m])
        vad_chunker.push(memoryview(out)[: 2 * m])
        while vad and vad_chunker.pop(frame_buf):
            kind = detector.process(frame_buf)
            if kind in (SPEECH_START, SPEECH_STOP):
                got.events.append((kind, detector.event_sample))
        while chunker.pop(chunk_buf):
            got.chunks.append(bytes(chunk_buf))
    got.held_back = resampler.held_back
    return got


def run_chain(chain: InboundChain, pcm: bytes, cuts: list[int] | None = None) -> Output:
    """Feed ``pcm`` in calls of ``cuts`` frames each (cycled; default one frame a call)."""
    got = Output()
    chunk = bytearray(2 * chain.chunk_samples)
    sizes = cuts or [1]
    at = call = 0
    while at < len(pcm):
        step = sizes[call % len(sizes)] * chain.frame_bytes
        ready = chain.process(pcm[at:at + step])
        at, call = at + step, call + 1
        for _ in range(ready):
            assert chain.pop_chunk(chunk)
            got.chunks.append(bytes(chunk))
        assert not chain.pop_chunk(chunk)
        while (event := chain.pop_event()) is not None:
            got.events.append(event)
    got.samples_out, got.held_back = chain.samples_out, chain.held_back
    return got


PAIRS = [(48000, 24000, 2), (48000, 24000, 1), (16000, 24000, 1), (44100, 24000, 1)]


@pytest.mark.parametrize(("in_rate", "out_rate", "channels"), PAIRS)
def test_chunks_and_events_equal_the_separate_kernels(
    in_rate: int, out_rate: int, channels: int
) -> None:
    chain = InboundChain(in_rate, out_rate, in_channels=channels)
    pcm = whole_frames(speech(in_rate, channels), chain.frame_bytes)
    want = separate_kernels(pcm, in_rate, out_rate, channels)
    # Meaningful only with real output: chunks of speech, a START and its STOP.
    assert len(want.chunks) >= 20
    assert [kind for kind, _ in want.events[:2]] == [SPEECH_START, SPEECH_STOP], want.events
    per_frame = run_chain(chain, pcm)
    assert per_frame.chunks == want.chunks
    assert per_frame.events == want.events
    assert (per_frame.samples_out, per_frame.held_back) == (want.samples_out, want.held_back)
    rng = np.random.default_rng(SEED)
    cuts = [int(c) for c in rng.integers(1, 25, 40)]
    print(f"seed {SEED} cuts {cuts}")
    for sizes in ([10], cuts, [chain.max_input_frames]):
        blocks = run_chain(InboundChain(in_rate, out_rate, in_channels=channels), pcm, sizes)
        assert (blocks.chunks, blocks.events, blocks.samples_out) == (
            want.chunks, want.events, want.samples_out), sizes


def test_without_vad_only_chunks_come_out() -> None:
    chain = InboundChain(48000, 24000, in_channels=2, vad=False)
    pcm = whole_frames(speech(48000, 2), chain.frame_bytes)
    got = run_chain(chain, pcm, [7])
    assert got.chunks == separate_kernels(pcm, 48000, 24000, 2, vad=False).chunks
    assert got.events == [] and not chain.speaking and not chain.vad
    # Without the VAD any resampler rate may be the output.
    assert InboundChain(48000, 44100, vad=False).out_rate == 44100


@pytest.mark.parametrize("channels", [3, 4, 6, 8])
def test_multichannel_downmix_equals_downmix_s16(channels: int) -> None:
    rng = np.random.default_rng(SEED + channels)
    print(f"seed {SEED + channels}")
    pcm = rng.integers(-32768, 32768, 480 * channels * 30).astype("<i2").tobytes()
    chain = InboundChain(48000, 24000, in_channels=channels, vad=False)
    got = run_chain(chain, pcm, [4])
    want = separate_kernels(pcm, 48000, 24000, channels, vad=False)
    assert (got.chunks, got.samples_out) == (want.chunks, want.samples_out)
    assert len(got.chunks) == 3  # 300 ms


def test_same_rate_passes_samples_through() -> None:
    chain = InboundChain(24000, 24000, chunk_ms=10)
    pcm = np.arange(-1200, 1200, dtype="<i2").tobytes()
    got = run_chain(chain, pcm, [3])
    assert b"".join(got.chunks) == pcm and chain.delay_samples == 0 and chain.held_back == 0


def test_reports_its_configuration() -> None:
    chain = InboundChain(48000, 24000, in_channels=2, chunk_ms=100)
    resampler = Resampler(48000, 24000)
    assert (chain.in_rate, chain.out_rate, chain.in_channels) == (48000, 24000, 2)
    assert (chain.frame_samples, chain.frame_bytes, chain.chunk_samples) == (480, 1920, 2400)
    assert chain.max_input_frames == 100  # 1 s of input per call
    assert (chain.delay_ms, chain.delay_samples) == (resampler.delay_ms, resampler.delay_samples)
    assert (chain.available, chain.samples_out, chain.dropped_samples) == (0, 0, 0)
    assert (chain.events_dropped, chain.speaking, chain.pop_event()) == (0, False, None)
    assert InboundChain(16000, 24000, frame_ms=20).max_input_frames == 50
    assert "InboundChain(in_rate=48000" in repr(chain)


def test_state_machine_and_speaking_follow_the_events() -> None:
    chain = InboundChain(16000, 24000)
    pcm = speech(16000, 1)
    frame = chain.frame_bytes
    seen = []
    for at in range(0, len(pcm), frame):
        chain.process(pcm[at:at + frame])
        event = chain.pop_event()
        if event is not None:
            seen.append(event)
            assert chain.speaking == (event[0] == SPEECH_START)
    starts = [sample / 24000 for kind, sample in seen if kind == SPEECH_START]
    assert starts and abs(starts[0] - 1.0) < 0.1, seen  # the first turn begins at 1.0 s


def test_event_queue_keeps_the_newest_when_unread() -> None:
    # 20 ms bursts 30 ms apart after a quiet boot, no minimum durations: a START
    # and a STOP every 50 ms (24 kHz in and out, so the VAD frames line up).
    rng = np.random.default_rng(SEED)
    frames = [(rng.standard_normal(240) * (3000 if i >= 10 and (i - 10) % 5 < 2 else 30))
              .astype("<i2").tobytes() for i in range(400)]
    detector, want = Vad(24000, 10, min_speech_ms=0, min_silence_ms=0, prefix_padding_ms=0), []
    for frame in frames:
        if (kind := detector.process(frame)) != 0:
            want.append((kind, detector.event_sample))
    assert len(want) > EVENT_QUEUE_CAPACITY + 10
    chain = InboundChain(24000, 24000, vad_min_speech_ms=0, vad_min_silence_ms=0)
    for at in range(0, 400, 100):  # nothing read in between
        chain.process(b"".join(frames[at:at + 100]))
    got = []
    while (event := chain.pop_event()) is not None:
        got.append(event)
    assert got == want[-EVENT_QUEUE_CAPACITY:]
    assert chain.events_dropped == len(want) - EVENT_QUEUE_CAPACITY


def test_full_ring_drops_the_new_excess_like_the_chunker() -> None:
    # 50 chunks of 10 ms are less than one call's 1 s, so the ring holds 1 s + a chunk.
    chain = InboundChain(24000, 24000, chunk_ms=10, vad=False)
    pcm = (np.arange(48000) % 30000).astype("<i2").tobytes()
    assert chain.process(pcm[:48000]) == 100
    assert chain.process(pcm[48000:]) == 101
    assert (chain.available, chain.dropped_samples) == (24240, 23760)
    out = bytearray(480)
    assert chain.pop_chunk(out) and out == pcm[:480]


def test_reset_replays_identically() -> None:
    chain = InboundChain(48000, 24000, in_channels=2)
    pcm = whole_frames(speech(48000, 2), chain.frame_bytes)
    first = run_chain(chain, pcm, [5])
    chain.process(pcm[: 3 * chain.frame_bytes])  # leave audio and state behind
    chain.reset()
    assert (chain.available, chain.samples_out, chain.pop_event()) == (0, 0, None)
    again = run_chain(chain, pcm, [5])
    assert (again.chunks, again.events) == (first.chunks, first.events)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"in_rate": 12345}, "in_rate"),
    ({"out_rate": 44100}, "out_rate"),  # not a VAD rate
    ({"out_rate": 11025, "vad": False}, "out_rate"),
    ({"in_channels": 0}, "in_channels"),
    ({"in_channels": 9}, "in_channels"),
    ({"frame_ms": 0}, "frame_ms"),
    ({"chunk_ms": 0}, "chunk_ms"),
    ({"vad_min_speech_ms": -1}, "min_speech_ms"),
    ({"vad_min_silence_ms": 10**6}, "min_silence_ms"),
    ({"vad_threshold_db": 0.0}, "threshold_db"),
])
def test_constructor_rejects_each_bad_argument(kwargs: dict[str, object], name: str) -> None:
    args = {"in_rate": 48000, "out_rate": 24000, **kwargs}
    in_rate, out_rate = args.pop("in_rate"), args.pop("out_rate")
    with pytest.raises(ValueError, match=name):
        InboundChain(in_rate, out_rate, **args)  # type: ignore[arg-type]


def test_bad_input_raises_and_changes_nothing() -> None:
    chain = InboundChain(48000, 24000, in_channels=2)
    frame = chain.frame_bytes
    for pcm, match in (
        (bytes(frame + 1), "not a whole number of 10 ms frames"),
        (bytes(frame - 2), "1920 bytes each"),
        (bytes(frame * (chain.max_input_frames + 1)), "max_input_frames is 100"),
    ):
        with pytest.raises(ValueError, match=match):
            chain.process(pcm)
    with pytest.raises(TypeError, match="pcm"):
        chain.process(np.zeros(480, np.float32))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes-like"):
        chain.process("not audio")  # type: ignore[arg-type]
    assert (chain.available, chain.samples_out, chain.held_back) == (0, 0, 0)
    assert chain.process(b"") == 0 and chain.samples_out == 0
    chain.process(bytes(frame * 12))
    with pytest.raises(ValueError, match="out holds 2399 int16 samples; a chunk is 2400"):
        chain.pop_chunk(bytearray(2 * 2399))
    with pytest.raises(TypeError, match="out"):
        chain.pop_chunk(bytes(4800))
    assert chain.available == chain.samples_out > chain.chunk_samples  # still buffered


# --- the GIL: one hand-off per call -----------------------------------------


def test_process_releases_the_gil() -> None:
    # 100 ms blocks of speech, 100 calls a proof attempt (see tests/native/gil.py). The
    # per-10 ms-frame throughput of two threads is a benchmark (benchmarks/dsp.py).
    pcm = np.frombuffer(speech(48000, 1), "<i2")[: 48000].tobytes()
    blocks = [pcm[i : i + 9600] for i in range(0, len(pcm), 9600)]
    chain = InboundChain(48000, 24000)
    chunk = bytearray(2 * chain.chunk_samples)
    popped = [0]

    def calls() -> None:
        for i in range(100):
            if chain.process(blocks[i % len(blocks)]):
                while chain.pop_chunk(chunk):
                    popped[0] += 1
            while chain.pop_event() is not None:
                pass

    proof = prove_gil_released(calls)
    print(f"proved at attempt {proof.proved_at}")
    assert proof.released
    assert popped[0] == chain.samples_out // chain.chunk_samples > 0
    assert chain.dropped_samples == 0 and chain.events_dropped == 0
