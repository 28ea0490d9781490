"""False barge-ins of the local VAD on the noise sets its tests use, and how soon it
decides a real onset: the other side of a fast barge-in.

The detector runs as dsp runs it (24 kHz, 10 ms frames, the agent's ``VAD`` settings)
over white and pink noise at -30/-40/-50 dBFS (3 seeds x 20 s each: 6 minutes) and over
the labelled speech set (``tests/reference/vad_testset.py``) under white and pink noise
at 20/10/5 dB SNR. A START on noise alone, or in the speech set outside an utterance
(100 ms margin), is a false barge-in; an utterance with a START is detected, and the
decision time is the end of the frame that gave its START, after the utterance's true
start.

    python benchmarks/vad_false_alarms.py
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from native.vad import SPEECH_START, Vad  # noqa: E402
from pipeline.agents.vad import VAD  # noqa: E402
from tests.reference.vad_testset import (  # noqa: E402
    NOISE_COLORS,
    SNRS_DB,
    build,
    to_s16,
    unit_noise,
)

RATE = 24000
FRAME = RATE // 100
NOISE_DBFS = (-30.0, -40.0, -50.0)
NOISE_SEEDS = 3
NOISE_S = 20
MARGIN = RATE // 10


def _starts(vad: Vad, pcm: bytes) -> list[tuple[int, int]]:
    """(onset sample, end sample of the deciding frame) of every START."""
    out = []
    for i in range(0, len(pcm) // 2 - FRAME + 1, FRAME):
        if vad.process(pcm[2 * i: 2 * (i + FRAME)]) == SPEECH_START:
            out.append((vad.event_sample, i + FRAME))
    return out


def _vad(min_speech_ms: int, threshold_db: float) -> Vad:
    extra = {"threshold_db": threshold_db} if threshold_db else {}
    return Vad(RATE, 10, min_speech_ms=min_speech_ms, min_silence_ms=500, **extra)


def measure(min_speech_ms: int, threshold_db: float) -> dict[str, Any]:
    noise_starts = 0
    for color in NOISE_COLORS:
        for dbfs in NOISE_DBFS:
            for seed in range(NOISE_SEEDS):
                x = unit_noise(color, NOISE_S * RATE, 1000 + seed) * 10 ** (dbfs / 20)
                noise_starts += len(_starts(_vad(min_speech_ms, threshold_db), to_s16(x)))
    speech = build(RATE)
    false_in_speech = detected = total = 0
    decide_ms: list[float] = []
    for color in NOISE_COLORS:
        for snr in SNRS_DB:
            starts = _starts(_vad(min_speech_ms, threshold_db), speech.noisy(color, snr))
            spans = [(a - MARGIN, b + MARGIN) for a, b in speech.spans]
            false_in_speech += sum(1 for s, _ in starts if not any(a <= s <= b for a, b in spans))
            for (a, b), true_start in zip(spans, speech.starts, strict=True):
                total += 1
                hits = [end for s, end in starts if a <= s <= b]
                if hits:
                    detected += 1
                    decide_ms.append((hits[0] - true_start) * 1000 / RATE)
    minutes = len(NOISE_COLORS) * len(NOISE_DBFS) * NOISE_SEEDS * NOISE_S / 60
    return {"min_speech_ms": min_speech_ms, "threshold_db": threshold_db or 5.5,
            "false_barge_ins_noise": noise_starts, "noise_minutes": minutes,
            "false_barge_ins_per_min": round(noise_starts / minutes, 2),
            "false_barge_ins_in_speech_pauses": false_in_speech,
            "utterances_detected": f"{detected}/{total}",
            "decision_after_true_start_ms_median": round(statistics.median(decide_ms), 1),
            "decision_after_true_start_ms_max": round(max(decide_ms), 1)}


def compare() -> dict[str, dict[str, Any]]:
    """The agent's VAD as it is now and as it was (30 ms at the kernel's 5.5 dB)."""
    now = VAD()
    return {"before (30 ms, 5.5 dB)": measure(30, 0.0),
            f"now ({now.min_speech_ms} ms, {now.threshold_db} dB)":
                measure(now.min_speech_ms, now.threshold_db)}


def print_table(rows: dict[str, dict[str, Any]]) -> None:
    print(f"{'local VAD':<22}{'false/noise':>12}{'per min':>9}{'in pauses':>10}"
          f"{'detected':>10}{'decide p50':>11}{'max':>7}")
    for name, r in rows.items():
        print(f"{name:<22}{r['false_barge_ins_noise']:>12}{r['false_barge_ins_per_min']:>9}"
              f"{r['false_barge_ins_in_speech_pauses']:>10}{r['utterances_detected']:>10}"
              f"{r['decision_after_true_start_ms_median']:>11}"
              f"{r['decision_after_true_start_ms_max']:>7}")


def main() -> int:
    rows = compare()
    print(json.dumps(rows, indent=1))
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
