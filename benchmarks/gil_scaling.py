"""Throughput of each native kernel in 2 threads over 1: how well ``nogil`` scales.

A figure, not a test: on a busy machine another process can take a core for a whole
run, so the ratio says little about the kernel then (``make test`` proves the GIL is
released by a deterministic method, ``tests/native/gil.py``). On an idle 2-core
machine a kernel that runs without the GIL reaches ~x1.7-2.0; one that holds it x1.0.
Runs are calibrated to ``--min-run-s`` and interleaved 1/2/1/2 so noise hits both; the
best of ``--reps`` pairs counts. A sha256 control (surely GIL-free) shows whether a
second core was free at all.

    python benchmarks/gil_scaling.py --json out/gil_scaling.json
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import write_json  # noqa: E402
from native import convert  # noqa: E402
from native.chunker import Chunker  # noqa: E402
from native.inbound_chain import InboundChain  # noqa: E402
from native.resample import Resampler  # noqa: E402
from native.vad import Vad  # noqa: E402

Worker = Callable[[], None]
MakeWorker = Callable[[int], Worker]


def wall_time(workers: list[Worker]) -> float:
    """Seconds from a common start until every worker (one thread each) is done."""
    start = threading.Barrier(len(workers) + 1)

    def run(work: Worker) -> None:
        start.wait()
        work()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def thread_scaling(make_worker: MakeWorker, reps: int = 5, min_run_s: float = 0.2
                   ) -> dict[str, float]:
    """Throughput of 2 threads over 1, each thread doing the single thread's work.

    ``make_worker(iterations)`` builds a worker with its own buffers.
    """
    iterations = 8
    while wall_time([make_worker(iterations)]) < min_run_s:
        iterations *= 2
    one = two = math.inf
    for _ in range(reps):
        one = min(one, wall_time([make_worker(iterations)]))
        two = min(two, wall_time([make_worker(iterations) for _ in range(2)]))
    return {"iterations": iterations, "one_thread_s": one, "two_threads_s": two,
            "ratio": 2 * one / two}


def _repeat(call: Callable[[], object]) -> MakeWorker:
    def make(iterations: int) -> Worker:
        def work() -> None:
            for _ in range(iterations):
                call()
        return work
    return make


def control() -> MakeWorker:
    """sha256 of 64 KiB: hashlib drops the GIL, so this shows what a free core gives."""
    data = bytes(1 << 16)
    return lambda n: _repeat(lambda: hashlib.sha256(data).digest())(n)


def resample() -> MakeWorker:
    """Resampler.process_s16, 1 s of 48 kHz to 16 kHz a call."""
    def make(n: int) -> Worker:
        r = Resampler(48000, 16000)
        pcm = np.zeros(48000, dtype=np.int16)
        out = np.empty(r.max_output(pcm.size), dtype=np.int16)
        return _repeat(lambda: r.process_s16(pcm, out))(n)
    return make


def chunker() -> MakeWorker:
    """Chunker push + pop of 128k-sample (256 KiB) chunks, 4 a call."""
    chunk, chunks = 1 << 17, 4

    def make(n: int) -> Worker:
        c = Chunker(chunk, chunks * chunk)
        pcm = bytes(2 * chunks * chunk)
        out = bytearray(2 * chunk)

        def step() -> None:
            c.push(pcm)
            while c.pop(out):
                pass
        return _repeat(step)(n)
    return make


def s16_to_f32() -> MakeWorker:
    """convert.s16_to_f32 on 256k samples (in each core's L2)."""
    def make(n: int) -> Worker:
        pcm = bytes(2 << 18)
        out = np.empty(1 << 18, dtype=np.float32)
        return _repeat(lambda: convert.s16_to_f32(pcm, out))(n)
    return make


def vad() -> MakeWorker:
    """Vad.process_frames on 1 s of 24 kHz low noise (no event stops it)."""
    rng = np.random.default_rng(1)
    pcm = (rng.standard_normal(24000) * 30).astype("<i2").tobytes()

    def make(n: int) -> Worker:
        v = Vad(24000)
        return _repeat(lambda: v.process_frames(pcm))(n)
    return make


def inbound_chain(block_ms: int) -> MakeWorker:
    """InboundChain.process on noise, one call per ``block_ms`` (10 = as the dsp stage)."""
    rng = np.random.default_rng(2)
    pcm = (rng.standard_normal(48 * block_ms) * 3000).astype("<i2").tobytes()

    def make(n: int) -> Worker:
        chain = InboundChain(48000, 24000)
        out = bytearray(2 * chain.chunk_samples)

        def step() -> None:
            if chain.process(pcm):
                while chain.pop_chunk(out):
                    pass
            while chain.pop_event() is not None:
                pass
        return _repeat(step)(n)
    return make


KERNELS: dict[str, Callable[[], MakeWorker]] = {
    "control_sha256": control,
    "resample_1s": resample,
    "chunker_512k": chunker,
    "s16_to_f32_256k": s16_to_f32,
    "vad_1s": vad,
    "inbound_chain_10ms": lambda: inbound_chain(10),
    "inbound_chain_100ms": lambda: inbound_chain(100),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--min-run-s", type=float, default=0.2)
    ap.add_argument("--only", default="", help="comma-separated kernel names")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(KERNELS)
    results: dict[str, Any] = {}
    print(f"{'kernel':<22} {'1 thread s':>10} {'2 threads s':>11} {'ratio':>6}")
    for name in names:
        r = thread_scaling(KERNELS[name](), args.reps, args.min_run_s)
        results[name] = r
        print(f"{name:<22} {r['one_thread_s']:>10.3f} {r['two_threads_s']:>11.3f} "
              f"{r['ratio']:>6.2f}")
    doc = {"cpus": os.cpu_count(), "load": os.getloadavg()[0], "kernels": results}
    write_json(doc, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
