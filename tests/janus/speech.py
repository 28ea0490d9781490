"""The three-turn example call at the participants' rate (8 kHz), its turns, and how
well a turn is found in what a participant received."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.signal import resample_poly

from tests.web.analysis import find, piecewise_corr

ROOT = Path(__file__).resolve().parents[2]
THREE_TURNS = ROOT / "examples" / "audio" / "three_turns.wav"
LABELS = json.loads((ROOT / "examples" / "audio" / "three_turns.json").read_text())
RATE = 8000
SLIP_MS = 120.0  # how far Janus's jitter buffer may delay a piece of a reply


def three_turns() -> tuple[npt.NDArray[np.int16], list[npt.NDArray[np.float64]]]:
    """The call at 8 kHz (int16) and each turn's samples in it (floats in [-1, 1])."""
    with wave.open(str(THREE_TURNS)) as src:
        assert src.getframerate() == 16000 and src.getnchannels() == 1
        x = np.frombuffer(src.readframes(src.getnframes()), dtype="<i2").astype(np.float64)
    y = resample_poly(x, 1, 2)
    pcm = np.clip(np.round(y), -32768, 32767).astype(np.int16)
    turns = [pcm[int(t["onset_s"] * RATE):int(t["offset_s"] * RATE)] / 32768.0
             for t in LABELS["turns"]]
    return pcm, turns


def echo_score(heard: npt.NDArray[np.float64], turn: npt.NDArray[np.float64]) -> float:
    """How well ``turn`` is found in ``heard``: waveform correlation in 250 ms pieces,
    each free to slip ``SLIP_MS`` (Janus's jitter buffer of a late stream adds silence,
    which delays the rest of a turn by whole packets)."""
    whole = find(turn, heard, RATE)
    pieces = piecewise_corr(turn, heard, whole.at, RATE, slack_ms=SLIP_MS)
    print(f"turn at {whole.at / RATE:.2f} s: whole {whole.corr:.3f}, pieces {pieces:.3f}")
    return pieces
