"""Cost of one 10 ms frame of ``native.vad.Vad`` at 24 kHz, beside webrtcvad's.

A figure, not a test (a shared machine's numbers). webrtcvad has no 24 kHz mode, so
its 10 ms at 16 and 32 kHz bracket ours. Frames come from the labelled test set
(speech in white noise at 10 dB SNR), the same frame called ``--calls`` times.

    python benchmarks/vad_cost.py [--calls 20000] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

import webrtcvad

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import write_json  # noqa: E402
from native.vad import Vad  # noqa: E402
from tests.reference.vad_testset import build  # noqa: E402


def per_frame_us(call: Callable[[], object], calls: int, repeat: int = 3) -> float:
    """Best of ``repeat`` runs of ``calls`` calls, in microseconds a call."""
    return min(timeit.repeat(call, number=calls, repeat=repeat)) / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    frame = build(24000).noisy("white", 10.0)[2 * 24000 : 2 * 24000 + 480]
    vad = Vad(24000)
    results = {"vad_24k_10ms_us": per_frame_us(lambda: vad.process(frame), args.calls)}
    ref = webrtcvad.Vad(2)
    for rate in (16000, 32000):
        same = build(rate).noisy("white", 10.0)[2 * rate : 2 * rate + 2 * rate // 100]

        def call(frame: bytes = same, r: int = rate) -> None:
            ref.is_speech(frame, r)

        results[f"webrtcvad_{rate // 1000}k_10ms_us"] = per_frame_us(call, args.calls)
    for name, us in results.items():
        print(f"{name:<24} {us:8.2f} us/frame")
    write_json(results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
