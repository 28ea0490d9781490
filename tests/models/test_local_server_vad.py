"""ServerVad on its own: boundaries, noise immunity, chunking, the threshold map."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.model_server.protocol.server_vad import (
    FRAME_SAMPLES,
    ServerVad,
    SpeechStart,
    SpeechStop,
    VadParams,
    VadState,
    threshold_to_dbfs,
)
from tests.models.test_local_server_support import SR, speech_track


def _run(pcm: np.ndarray, chunk: int, params: VadParams | None = None) -> list[object]:
    vad = ServerVad(params or VadParams())
    events: list[object] = []
    for i in range(0, pcm.size, chunk):
        events += vad.process(pcm[i:i + chunk])
    return events


@pytest.mark.parametrize("noise_dbfs", [None, -70.0])
def test_boundaries_within_a_frame_or_two(noise_dbfs: float | None) -> None:
    pcm, turns = speech_track([1.0, 1.8], noise_dbfs=noise_dbfs)
    events = _run(pcm, 2400)
    assert [type(e) for e in events] == [SpeechStart, SpeechStop] * 2
    for turn, start, stop in zip(turns, events[::2], events[1::2], strict=True):
        assert isinstance(start, SpeechStart) and isinstance(stop, SpeechStop)
        assert abs(start.sample - turn.onset) <= 0.03 * SR
        assert abs(stop.sample - turn.offset) <= 0.03 * SR
        assert stop.detected_at - stop.sample == 50 * FRAME_SAMPLES  # 500 ms of silence


def test_chunk_size_does_not_change_events() -> None:
    pcm, _ = speech_track([0.7, 0.9], gap=0.8)
    one_shot = _run(pcm, pcm.size)
    print("events:", one_shot)
    for chunk in (1, 37, FRAME_SAMPLES - 1, FRAME_SAMPLES + 1, 4800):
        assert _run(pcm, chunk) == one_shot, chunk


def test_noise_at_minus_60_dbfs_never_triggers() -> None:
    pcm, _ = speech_track([], lead=10.0, tail=0.0, noise_dbfs=-60.0)
    vad = ServerVad(VadParams())
    assert vad.process(pcm) == []
    assert vad.state is VadState.QUIET
    assert -62.0 < vad.noise_floor_dbfs < -58.0


def test_a_click_is_not_speech() -> None:
    pcm = np.zeros(SR, dtype=np.int16)
    pcm[SR // 2:SR // 2 + FRAME_SAMPLES] = 16000
    assert _run(pcm, 480) == []


def test_steady_loud_noise_lifts_the_floor_and_ends_the_false_turn() -> None:
    # Noise at -45 dBFS clears the absolute -50 dBFS threshold. Until the 5 s
    # floor history has filled it makes one false turn; then the floor lifts,
    # the turn ends, and the same noise never starts another one.
    rng = np.random.default_rng(3)
    noise = (rng.standard_normal(12 * SR) * 10 ** (-45 / 20) * 32767).astype(np.int16)
    vad = ServerVad(VadParams())
    early = vad.process(noise[:6 * SR])
    assert [type(e) for e in early] == [SpeechStart, SpeechStop]
    assert vad.noise_floor_dbfs > -47.0
    assert vad.process(noise[6 * SR:]) == []
    # Speech 20 dB above that noise is still heard.
    pcm, (turn,) = speech_track([1.0], lead=0.5, tail=1.0)
    loud = (noise[:pcm.size].astype(np.int32) + pcm).clip(-32768, 32767).astype(np.int16)
    events = vad.process(loud)
    assert [type(e) for e in events] == [SpeechStart, SpeechStop]
    assert isinstance(events[0], SpeechStart)
    assert abs(events[0].sample - (12 * SR + turn.onset)) <= 0.03 * SR


def test_threshold_mapping() -> None:
    assert threshold_to_dbfs(0.0) == -70.0
    assert threshold_to_dbfs(0.5) == -50.0
    assert threshold_to_dbfs(1.0) == -30.0
    assert threshold_to_dbfs(7.0) == -30.0
    pcm, _ = speech_track([1.0])
    quiet = (pcm.astype(np.float64) * 10 ** (-35 / 20)).astype(np.int16)  # peak ≈ -47 dBFS
    assert _run(quiet, 2400, VadParams(threshold=0.9)) == []
    assert len(_run(quiet, 2400, VadParams(threshold=0.2))) == 2


def test_silence_duration_sets_the_stop_delay() -> None:
    pcm, _ = speech_track([1.0], tail=1.5)
    events = _run(pcm, 2400, VadParams(silence_duration_ms=1200))
    stop = events[-1]
    assert isinstance(stop, SpeechStop)
    assert stop.detected_at - stop.sample == 120 * FRAME_SAMPLES
