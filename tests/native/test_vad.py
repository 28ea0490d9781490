"""native.vad.Vad on a labelled speech set, against webrtcvad, and on exact synthetic events."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import webrtcvad

from native.vad import SPEECH_NONE, SPEECH_START, SPEECH_STOP, Vad
from tests.native.gil import prove_gil_released
from tests.reference.vad_ref import VadRef
from tests.reference.vad_testset import NOISE_COLORS, SNRS_DB, build, to_s16, unit_noise

RATES = (8000, 16000, 24000, 32000, 48000)
FRAMES_MS = (10, 20, 30)
SEED = 20241126

BoolArray = npt.NDArray[np.bool_]


def frames_of(pcm: bytes, n: int) -> list[bytes]:
    return [pcm[i : i + 2 * n] for i in range(0, len(pcm) - 2 * n + 1, 2 * n)]


def run(vad: Vad, pcm: bytes) -> tuple[BoolArray, list[tuple[int, int, int]]]:
    """Raw per-frame decisions and the events as (frame index, kind, event_sample)."""
    raw = []
    events = []
    for i, frame in enumerate(frames_of(pcm, vad.frame_samples)):
        event = vad.process(frame)
        raw.append(vad.frame_is_speech)
        if event != SPEECH_NONE:
            events.append((i, event, vad.event_sample))
    return np.array(raw, dtype=bool), events


def f1(pred: BoolArray, truth: BoolArray) -> float:
    tp = int(np.sum(pred & truth))
    return 2 * tp / (2 * tp + int(np.sum(pred & ~truth)) + int(np.sum(~pred & truth)))


def test_constructor_validates_each_argument() -> None:
    vad = Vad(16000)
    assert (vad.sample_rate, vad.frame_samples, vad.samples_seen) == (16000, 160, 0)
    assert Vad(24000, 30).frame_samples == 720
    for kwargs, name in (
        ({"sample_rate": 44100}, "sample_rate"),
        ({"sample_rate": 16000, "frame_ms": 15}, "frame_ms"),
        ({"sample_rate": 16000, "min_speech_ms": -1}, "min_speech_ms"),
        ({"sample_rate": 16000, "min_silence_ms": -5}, "min_silence_ms"),
        ({"sample_rate": 16000, "prefix_padding_ms": 10**6}, "prefix_padding_ms"),
        ({"sample_rate": 16000, "threshold_db": 0.0}, "threshold_db"),
        ({"sample_rate": 16000, "threshold_db": float("nan")}, "threshold_db"),
        ({"sample_rate": 24000, "confirm": True}, "sample_rate"),
    ):
        with pytest.raises(ValueError, match=name):
            Vad(**kwargs)


def test_bad_frames_raise_and_change_nothing() -> None:
    vad = Vad(16000, 20)
    with pytest.raises(ValueError, match="pcm has 638 bytes; a 20 ms frame at 16000 Hz is 640"):
        vad.process(bytes(638))
    with pytest.raises(ValueError, match="pcm has 642 bytes"):
        vad.process(bytes(642))
    with pytest.raises(ValueError, match="pcm has 321 bytes"):
        vad.process(bytes(321))
    with pytest.raises(TypeError, match="little-endian int16"):
        vad.process(np.zeros(320, dtype=np.float32))  # type: ignore[arg-type]
    assert vad.samples_seen == 0


def test_every_buffer_kind_gives_the_same_decisions() -> None:
    ts = build(16000)
    pcm = ts.noisy("white", 10.0)[: 2 * 16000 * 3]
    expected = run(Vad(16000), pcm)
    vad = Vad(16000)
    raw, events = [], []
    for i, frame in enumerate(frames_of(pcm, 160)):
        kind = i % 4
        unaligned = bytearray(b"\x00" + frame)
        src: object = (
            frame,
            bytearray(frame),
            memoryview(unaligned)[1:],
            np.frombuffer(frame, dtype=np.int16),
        )[kind]
        event = vad.process(src)  # type: ignore[arg-type]
        raw.append(vad.frame_is_speech)
        if event:
            events.append((i, event, vad.event_sample))
    assert np.array_equal(np.array(raw), expected[0]) and events == expected[1]


@pytest.mark.parametrize(("rate", "frame_ms"), [(8000, 30), (16000, 10), (24000, 20), (48000, 10)])
def test_matches_numpy_reference(rate: int, frame_ms: int) -> None:
    pcm = build(rate).noisy("white", 10.0)
    vad, ref = Vad(rate, frame_ms), VadRef(rate, frame_ms)
    raw, events = run(vad, pcm)
    ref.run(pcm)
    flips = np.flatnonzero(raw != np.array(ref.raw))
    print(f"{rate} Hz {frame_ms} ms: {len(raw)} frames, {len(events)} events, flips {flips}")
    assert flips.size == 0 and events == ref.events
    assert np.allclose(vad.band_floors_db, ref.band_floors_db, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("rate", "frame_ms"),
    [(8000, 10), (16000, 10), (16000, 20), (16000, 30), (32000, 10), (48000, 10), (48000, 30)],
)
def test_frame_f1_beats_webrtcvad_best_mode(rate: int, frame_ms: int) -> None:
    ts = build(rate)
    truth = ts.labels(frame_ms)
    n = rate * frame_ms // 1000
    for color in NOISE_COLORS:
        for snr in SNRS_DB:
            pcm = ts.noisy(color, snr)
            ours = f1(run(Vad(rate, frame_ms), pcm)[0][: len(truth)], truth)
            theirs = []
            for mode in range(4):
                ref = webrtcvad.Vad(mode)
                pred = np.array([ref.is_speech(f, rate) for f in frames_of(pcm, n)], dtype=bool)
                theirs.append(f1(pred[: len(truth)], truth))
            print(
                f"{rate} Hz {frame_ms} ms {color} {snr:4.1f} dB: ours F1 {ours:.3f}, webrtcvad "
                + " ".join(f"m{m} {v:.3f}" for m, v in enumerate(theirs))
            )
            assert ours >= max(theirs), (color, snr)


@pytest.mark.parametrize("frame_ms", FRAMES_MS)
@pytest.mark.parametrize("rate", RATES)
def test_onsets_and_stops_of_each_utterance(rate: int, frame_ms: int) -> None:
    ts = build(rate)
    vad = Vad(rate, frame_ms, prefix_padding_ms=300)
    pads: list[int] = []
    raw, events = [], []
    for i, frame in enumerate(frames_of(to_s16(ts.clean), vad.frame_samples)):
        event = vad.process(frame)
        raw.append(vad.frame_is_speech)
        if event == SPEECH_START:
            pads.append(vad.padded_start_sample)
            assert vad.speaking
        if event == SPEECH_STOP:
            assert not vad.speaking
        if event:
            events.append((i, event, vad.event_sample))
    kinds = [kind for _, kind, _ in events]
    assert kinds == [SPEECH_START, SPEECH_STOP] * len(ts.spans), events
    starts = [sample for _, kind, sample in events if kind == SPEECH_START]
    stops = [sample for _, kind, sample in events if kind == SPEECH_STOP]
    onset_ms = [(got - true) * 1000 / rate for got, true in zip(starts, ts.starts, strict=True)]
    stop_ms = [(got - b) * 1000 / rate for got, (_, b) in zip(stops, ts.spans, strict=True)]
    print(f"{rate} Hz {frame_ms} ms: onset error ms {np.round(onset_ms, 1)}")
    print(f"{rate} Hz {frame_ms} ms: stop error ms {np.round(stop_ms, 1)}")
    assert max(abs(e) for e in onset_ms) <= 30.0
    # The true offset is the last sample above -50 dBFS; a decaying tail below
    # the room floor can end a frame or two earlier than that.
    assert all(-60.0 <= e <= frame_ms + 5.0 for e in stop_ms)
    assert pads == [max(0, s - 300 * rate // 1000) for s in starts]
    for i, kind, sample in events:
        # START is reported on the frame where speech reached min_speech_ms;
        # STOP on the frame where the silence reached min_silence_ms.
        need = (60 if kind == SPEECH_START else 300) * rate // 1000
        frame_end = (i + 1) * vad.frame_samples
        assert frame_end - vad.frame_samples < sample + need <= frame_end


def noise_only(color: str, rate: int, seconds: float, dbfs: float) -> bytes:
    return to_s16(unit_noise(color, round(seconds * rate), SEED) * 10 ** (dbfs / 20))


@pytest.mark.parametrize("color", NOISE_COLORS)
@pytest.mark.parametrize(("rate", "frame_ms"), [(16000, 10), (24000, 10), (48000, 10), (8000, 30)])
def test_false_alarms_on_noise_at_minus_40_dbfs(color: str, rate: int, frame_ms: int) -> None:
    vad = Vad(rate, frame_ms)
    raw, events = run(vad, noise_only(color, rate, 10.0, -40.0))
    starts = sum(1 for _, kind, _ in events if kind == SPEECH_START)
    print(f"{color} {rate} Hz {frame_ms} ms: false-alarm frames {raw.mean():.2%}, STARTs {starts}")
    print(f"noise floor estimate {vad.noise_floor_db:.1f} dBFS, bands {vad.band_floors_db}")
    assert raw.mean() <= 0.02
    assert abs(vad.noise_floor_db - -40.0) <= 3.0


def burst(rate: int, start: int, length: int, total: int) -> bytes:
    """-50 dBFS white noise with a two-tone (300 Hz + 1 kHz, -20 dBFS) burst at ``start``."""
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal(total) * 10 ** (-50 / 20)
    t = np.arange(length) / rate
    x[start : start + length] += 0.07 * (np.sin(2 * np.pi * 300 * t) + np.sin(2 * np.pi * 1000 * t))
    return to_s16(x)


@pytest.mark.parametrize("frame_ms", FRAMES_MS)
def test_synthetic_burst_events_are_sample_exact_to_a_sub_block(frame_ms: int) -> None:
    rate = 24000
    start, length = 24000 + 1234, 12000  # 1.05 s in, 0.5 s long, not frame-aligned
    vad = Vad(rate, frame_ms, min_speech_ms=60, min_silence_ms=300, prefix_padding_ms=200)
    _, events = run(vad, burst(rate, start, length, 3 * rate))
    assert [kind for _, kind, _ in events] == [SPEECH_START, SPEECH_STOP]
    (i_start, _, got_start), (i_stop, _, got_stop) = events
    sub = rate // 400  # 2.5 ms
    assert start - sub <= got_start <= start + sub
    assert vad.padded_start_sample == got_start - 200 * rate // 1000
    frame = vad.frame_samples
    # Speech ends at the first frame that is wholly, or mostly, after the burst.
    assert start + length - frame <= got_stop <= start + length + frame
    assert i_start == (got_start + 60 * rate // 1000 - 1) // frame
    assert i_stop == (got_stop + 300 * rate // 1000 - 1) // frame
    assert vad.samples_seen == 3 * rate // frame * frame
    assert not vad.speaking


def test_short_blip_and_short_pause_do_not_make_events() -> None:
    rate = 16000
    # 40 ms burst < 60 ms min_speech: no START.
    _, events = run(Vad(rate), burst(rate, 16000, 640, 2 * rate))
    assert events == []
    # Two 400 ms bursts 150 ms apart (< 300 ms min_silence): one START, one STOP.
    a = np.frombuffer(burst(rate, 16000, 6400, 3 * rate), dtype="<i2").astype(np.int32)
    b = np.frombuffer(burst(rate, 16000 + 6400 + 2400, 6400, 3 * rate), dtype="<i2")
    both = np.clip(a + b.astype(np.int32), -32768, 32767).astype("<i2").tobytes()
    _, events = run(Vad(rate), both)
    assert [kind for _, kind, _ in events] == [SPEECH_START, SPEECH_STOP]
    assert events[1][2] >= 16000 + 2 * 6400 + 2400 - 160


def test_reset_replays_identically() -> None:
    pcm = build(16000).noisy("pink", 10.0)[: 2 * 16000 * 4]
    vad = Vad(16000)
    first = run(vad, pcm)
    assert vad.samples_seen == 4 * 16000
    vad.reset()
    assert (vad.samples_seen, vad.speaking, vad.frame_is_speech) == (0, False, False)
    second = run(vad, pcm)
    assert np.array_equal(first[0], second[0]) and first[1] == second[1]


def test_confirm_keeps_real_onsets() -> None:
    ts = build(16000)
    _, events = run(Vad(16000, confirm=True), ts.noisy("white", 10.0))
    starts = [s for _, kind, s in events if kind == SPEECH_START]
    errors = [(s - t) / 16 for s, t in zip(starts, ts.starts, strict=False)]
    print("confirmed onset error ms", errors)
    assert len(starts) == len(ts.starts)


def test_process_frames_matches_frame_by_frame() -> None:
    ts = build(24000)
    pcm = ts.noisy("pink", 10.0)
    expected_raw, expected = run(Vad(24000, 20), pcm)
    vad = Vad(24000, 20)
    frame_bytes = 2 * vad.frame_samples
    whole = len(pcm) // frame_bytes * frame_bytes
    view = memoryview(pcm)[:whole]
    events, done = [], 0
    while done * frame_bytes < whole:
        done += vad.process_frames(view[done * frame_bytes :])
        if vad.last_event != SPEECH_NONE:
            events.append((done - 1, vad.last_event, vad.event_sample))
    assert events == expected and len(events) == 2 * len(ts.spans)
    assert vad.samples_seen == len(expected_raw) * vad.frame_samples
    assert vad.frame_is_speech == expected_raw[-1]
    assert vad.process_frames(b"") == 0 and vad.last_event == SPEECH_NONE
    with pytest.raises(ValueError, match="not a whole number of 20 ms frames at 24000 Hz"):
        vad.process_frames(bytes(frame_bytes + 2))


def test_process_frames_releases_the_gil() -> None:
    # process_frames over 1 s of noise (no event stops it), 200 calls a proof attempt:
    # a window of milliseconds for the checker thread (see tests/native/gil.py).
    pcm = noise_only("white", 24000, 1.0, -40.0)
    vad = Vad(24000)
    frames: list[int] = []

    def calls() -> None:
        for _ in range(200):
            frames.append(vad.process_frames(pcm))

    proof = prove_gil_released(calls)
    print(f"proved at attempt {proof.proved_at}")
    assert proof.released
    assert set(frames) == {100}  # noise made no event: every call ran all 100 frames
