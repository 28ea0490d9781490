"""The web track meeting replies that start anywhere on its 20 ms grid (no browser).

Replies are pushed into an ``AgentTrack`` as playout paces them — the first frame at a
random phase of the track's grid, as playout's on-arrival start puts it, then every
20 ms with a loaded host's lateness (exponential, mean 1.5 ms, 5 % of frames 5-12 ms
more) — and an aiortc-like sender takes its frames. Compared: the track on a fixed
grid (frames without a position) and the track whose grid follows the reply. Reported:
how long the first frame waited, how far the audio sends stray from 20 ms apart (what a
browser's jitter buffer sees as jitter and stretches the speech for), the sends made in
the late grace (off the beat) and the silent frames inside a reply.

    .venv/bin/python benchmarks/web_track_phase.py --replies 20 --seed 1
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.transports.web.audio import FRAME_NS, FRAME_SAMPLES, AgentTrack

RATE = 24000  # playout's output rate
FRAME = RATE // 50
PCM = (np.ones(FRAME, dtype=np.int16) * 1000).tobytes()


async def one_reply(follow: bool, phase_ms: float, frames: int, rng: random.Random
                    ) -> dict[str, Any]:
    t0 = time.monotonic_ns()
    track = AgentTrack(t0)
    sends: list[tuple[int, bool]] = []

    async def sender() -> None:
        while True:
            frame = await track.next_frame()
            pcm = np.frombuffer(bytes(frame.planes[0]), dtype=np.int16)[:FRAME_SAMPLES]
            sends.append((time.monotonic_ns(), bool(pcm.any())))

    task = asyncio.create_task(sender())
    start = t0 + 200_000_000 + int(phase_ms * 1e6)
    first_position = (start - t0) * RATE // 1_000_000_000
    for k in range(frames):
        late = rng.expovariate(1 / 1.5e6) + (rng.uniform(5e6, 12e6) if rng.random() < 0.05
                                             else 0.0)
        await asyncio.sleep(max(0, start + k * FRAME_NS + int(late) - time.monotonic_ns()) / 1e9)
        track.push(1000 + k, RATE, PCM, first_position + k * FRAME if follow else None)
    await asyncio.sleep(0.2)
    task.cancel()
    audio = [t for t, a in sends if a]
    kinds = [a for _, a in sends]
    first, last = kinds.index(True), len(kinds) - 1 - kinds[::-1].index(True)
    return {"first_wait_ms": (audio[0] - start) / 1e6,
            "interval_dev_ms": [abs((b - a) / 1e6 - 20) for a, b in itertools.pairwise(audio)],
            "silent_inside": kinds[first:last + 1].count(False), "grace_sends": track.late_frames}


async def compare(replies: int, frames: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    out: dict[str, Any] = {}
    for follow in (False, True):
        runs = [await one_reply(follow, rng.uniform(0, 20), frames, rng) for _ in range(replies)]
        waits = sorted(r["first_wait_ms"] for r in runs)
        devs = sorted(d for r in runs for d in r["interval_dev_ms"])
        out["following grid" if follow else "fixed grid"] = {
            "first_wait_ms_p50": round(statistics.median(waits), 1),
            "first_wait_ms_max": round(waits[-1], 1),
            "send_interval_dev_ms_p90": round(devs[int(0.9 * len(devs))], 2),
            "send_interval_dev_ms_p99": round(devs[int(0.99 * len(devs))], 2),
            "grace_sends": sum(r["grace_sends"] for r in runs),
            "silent_frames_inside_replies": sum(r["silent_inside"] for r in runs),
            "frames": replies * frames}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replies", type=int, default=20)
    p.add_argument("--frames", type=int, default=40, help="frames a reply")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    print(json.dumps(asyncio.run(compare(args.replies, args.frames, args.seed)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
