"""The bundled example recordings: formats, layout, and JSON onsets vs an energy detector."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.transports.file.wav_reader import WavSource

AUDIO = Path(__file__).resolve().parents[2] / "examples" / "audio"
TOLERANCE_S = 0.020


def _load(name: str) -> tuple[dict[str, Any], WavSource, np.ndarray]:
    meta = json.loads((AUDIO / f"{name}.json").read_text())
    src = WavSource.open(AUDIO / f"{name}.wav")
    pcm = np.frombuffer(src.read_s16(0, src.frames), dtype="<i2").reshape(-1, src.channels)
    src.close()
    return meta, src, pcm


def _speech_regions(x: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """Spans where the 5 ms RMS exceeds -45 dBFS, bridging pauses shorter than 0.5 s."""
    win = rate // 200
    n = len(x) // win
    frames = x[: n * win].astype(np.float64).reshape(n, win) / 32768.0
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    active = np.flatnonzero(db > -45.0)
    if active.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(active) * win > 0.5 * rate)
    starts = active[np.r_[0, breaks + 1]]
    ends = active[np.r_[breaks, active.size - 1]] + 1
    return [(s * win / rate, e * win / rate) for s, e in zip(starts, ends, strict=True)]


@pytest.mark.parametrize(
    ("name", "rate", "channels", "fmt", "turns"),
    [
        ("three_turns", 16000, 1, "pcm_s16", 3),
        ("one_turn_48k_stereo", 48000, 2, "float32", 1),
    ],
)
def test_onsets_agree_with_energy_detector(
    name: str, rate: int, channels: int, fmt: str, turns: int
) -> None:
    meta, src, pcm = _load(name)
    assert (src.sample_rate, src.channels, src.sample_format) == (rate, channels, fmt)
    assert (meta["sample_rate"], meta["channels"], meta["sample_format"]) == (rate, channels, fmt)
    assert len(meta["turns"]) == turns
    regions = _speech_regions(pcm[:, 0], rate)
    print(name, "detected", regions)
    assert len(regions) == turns
    for turn, (on, off) in zip(meta["turns"], regions, strict=True):
        assert abs(turn["onset_s"] - on) <= TOLERANCE_S, (turn, on)
        assert abs(turn["offset_s"] - off) <= TOLERANCE_S, (turn, off)
        assert turn["duration_s"] == pytest.approx(turn["offset_s"] - turn["onset_s"], abs=1e-3)


def test_three_turns_layout_leaves_room_to_echo() -> None:
    meta, src, _ = _load("three_turns")
    assert (AUDIO / "three_turns.wav").stat().st_size < 1_000_000
    t = meta["turns"]
    assert [x["text"] for x in t] == [
        "Hello, can you hear me?",
        "What is the weather like in Paris today?",
        "Thank you, that is all for now.",
    ]
    assert t[0]["onset_s"] == pytest.approx(1.0, abs=1e-3)
    for turn in t:
        assert 1.0 <= turn["duration_s"] <= 2.5
    ends = [x["onset_s"] for x in t[1:]] + [src.duration_s]
    for turn, next_start in zip(t, ends, strict=True):
        room = turn["offset_s"] + 0.6 + turn["duration_s"] + 2.0
        assert next_start == pytest.approx(room, abs=1e-3), turn


@pytest.mark.parametrize("name", ["three_turns", "one_turn_48k_stereo"])
def test_noise_floor_is_not_digital_silence(name: str) -> None:
    _, src, pcm = _load(name)
    lead = pcm[: int(0.4 * src.sample_rate)].astype(np.float64) / 32768.0
    for ch in range(src.channels):
        rms_db = 10 * np.log10(np.mean(lead[:, ch] ** 2))
        assert -67.0 < rms_db < -63.0, (ch, rms_db)


def test_stereo_example_channels_differ_by_gain() -> None:
    *_, pcm = _load("one_turn_48k_stereo")
    left, right = pcm[:, 0].astype(np.float64), pcm[:, 1].astype(np.float64)
    gain = float(np.dot(left, right) / np.dot(left, left))
    assert gain == pytest.approx(0.8, abs=0.01)
