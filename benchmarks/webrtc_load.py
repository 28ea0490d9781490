"""N concurrent WebRTC calls from aiortc caller peers (no browser), the echo model.

Each caller plays the bundled three-turn call (paced in real time, Opus) and records
the agent's reply as it arrives. Measured at the callers, from the audio only:
end of each user turn -> first reply audio heard (p50/p99), and glitches in the
reply (20 ms frames of the echo that are silent where the user's turn had signal).
Measured on the processes: CPU seconds per call-second of each stage (psutil), and the
edge's own counters (frames late, underruns, skipped) - where its CPU goes.

Against a running ``voxpipe serve --model-engine echo`` (``--url``; pass
``--serve-pid`` to sample its processes), or else against a Runtime it starts
itself (its supervisor then shares this process with the callers: its CPU is
reported as ``bench+supervisor``).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/webrtc_load.py --calls 10 \
        --json out/webrtc_10.json --plot out/webrtc_10.png
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ipc.schema import StageEvent, WebAnswer, WebTransport  # noqa: E402
from pipeline.model_server.launcher import ModelServerProcess  # noqa: E402
from pipeline.supervisor.runtime import Runtime, RuntimeOptions  # noqa: E402
from pipeline.supervisor.session import SessionSpec  # noqa: E402
from tests.transports.web.client import WebCaller  # noqa: E402

AUDIO = ROOT / "examples" / "audio"
FRAME_S = 0.02
HEARD_DBFS = -40.0  # a received frame louder than this is reply audio
SIGNAL_DBFS = -45.0  # a user frame louder than this must be echoed
GAP_DBFS = -60.0  # an echo frame quieter than this where the user spoke is a glitch
ALIGN_FRAMES = 3

Answerer = Callable[[WebTransport], Awaitable[WebAnswer]]


@dataclass
class CallResult:
    latencies_s: list[float] = field(default_factory=list)
    glitches: int = 0
    echo_frames: int = 0
    missing_turns: int = 0


def _frame_db(x: np.ndarray, n: int) -> np.ndarray:
    m = len(x) // n
    rms = np.sqrt(np.mean(x[: m * n].reshape(m, n) ** 2, axis=1) + 1e-20)
    return np.asarray(20 * np.log10(rms))


def analyse(caller: WebCaller, labels: dict[str, Any]) -> CallResult:
    """Latency and glitches of each turn's echo, from what the caller heard."""
    res = CallResult()
    if caller.mic.started_at is None or not caller.chunks:
        res.missing_turns = len(labels["turns"])
        return res
    levels = np.array([20 * np.log10(np.sqrt(np.mean((c / 32768.0) ** 2)) + 1e-12)
                       for c in caller.chunks])
    arrivals = np.array(caller.arrivals)
    heard = caller.received()
    said = caller.mic.samples.astype(np.float64) / 32768.0
    n_said, n_heard = int(caller.mic.rate * FRAME_S), int(48000 * FRAME_S)
    for turn in labels["turns"]:
        end_at = caller.mic.started_at + turn["offset_s"]
        after = np.flatnonzero((arrivals > end_at) & (levels > HEARD_DBFS))
        if after.size == 0:
            res.missing_turns += 1
            continue
        first = int(after[0])
        res.latencies_s.append(float(arrivals[first] - end_at))
        # The echo replays the turn: user frames with signal must be heard in it.
        user_db = _frame_db(said[int(turn["onset_s"] * caller.mic.rate):
                                 int(turn["offset_s"] * caller.mic.rate)], n_said)
        user_on = int(np.argmax(user_db > SIGNAL_DBFS))
        speech = user_db[user_on:] > SIGNAL_DBFS
        echo_db = _frame_db(heard[max(0, first - ALIGN_FRAMES) * n_heard:
                                  (first + len(speech) + ALIGN_FRAMES) * n_heard], n_heard)
        # The echo's first audible frame and the turn's first loud one need not be the
        # same 20 ms: the best of a few frames' alignments is the one compared.
        misses = [int(np.sum(speech & (echo_db[k: k + len(speech)] < GAP_DBFS)))
                  for k in range(0, 2 * ALIGN_FRAMES + 1)
                  if k + len(speech) <= len(echo_db)]
        res.echo_frames += int(speech.sum())
        res.glitches += min(misses) if misses else int(speech.sum())
    return res


async def run_caller(wav: Path, labels: dict[str, Any], answer: Answerer, pc_id: str,
                     hold_s: float) -> CallResult:
    caller = WebCaller(wav, pc_id)
    try:
        transport = await caller.offer()
        reply = await answer(transport)
        await caller.answer(reply.sdp, reply.sdp_type)
        while not caller.mic.done:
            await asyncio.sleep(0.2)
        await asyncio.sleep(hold_s)  # the last echo
    finally:
        await caller.close()
    return analyse(caller, labels)


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            t = psutil.Process(pid).cpu_times()
            out[name] = t.user + t.system
        except psutil.Error:
            out[name] = float("nan")
    return out


async def with_runtime(args: argparse.Namespace, body: Callable[[Answerer, Callable[[], dict[str, int]]], Awaitable[dict[str, Any]]]) -> dict[str, Any]:  # noqa: E501
    with ModelServerProcess(["--engine", "echo"]) as server, \
            tempfile.TemporaryDirectory() as tmp:
        async with Runtime(RuntimeOptions()) as rt:
            closed: list[asyncio.Future[Any]] = []

            async def answer(transport: WebTransport) -> WebAnswer:
                spec = SessionSpec(transport, out_dir=Path(tmp) / transport.pc_id,
                                   model_url=server.url)
                session = rt.start_session(spec)
                closed.append(session.closed)
                fut: asyncio.Future[WebAnswer] = asyncio.get_running_loop().create_future()

                def on(ev: StageEvent) -> None:
                    if isinstance(ev.event, WebAnswer) and not fut.done():
                        fut.set_result(ev.event)

                session.on(on)
                return await asyncio.wait_for(fut, 30)

            def pids() -> dict[str, int]:
                return {**rt.pids(), "model-server": server.proc.pid if server.proc else 0,
                        "bench+supervisor": os.getpid()}

            result = await body(answer, pids)
            if closed:  # hung up: the edge counts each call's connection as it ends
                await asyncio.wait(closed, timeout=15)
            result["edge_counters"] = {k: v for k, v in
                                       (await rt.stage_stats())["edge"].counters.items()
                                       if k.startswith(("conn.", "frames_", "egress"))}
            return result


async def with_serve(args: argparse.Namespace, body: Callable[[Answerer, Callable[[], dict[str, int]]], Awaitable[dict[str, Any]]]) -> dict[str, Any]:  # noqa: E501
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async def answer(transport: WebTransport) -> WebAnswer:
            async with http.post(f"{args.url}/api/offer",
                                 json={"sdp": transport.offer_sdp,
                                       "type": transport.offer_type}) as resp:
                resp.raise_for_status()
                body_json = await resp.json()
            return WebAnswer(body_json["pc_id"], body_json["sdp"], body_json["type"])

        def pids() -> dict[str, int]:
            if not args.serve_pid:
                return {}
            root = psutil.Process(args.serve_pid)
            found = {"supervisor": root.pid}
            for child in root.children(recursive=True):
                title = " ".join(child.cmdline())
                name = next((s for s in ("capture", "dsp", "model-server", "model", "playout",
                                         "edge") if s in title), str(child.pid))
                found[name] = child.pid
            return found

        return await body(answer, pids)


async def load(args: argparse.Namespace) -> dict[str, Any]:
    wav = AUDIO / "three_turns.wav"
    labels = json.loads((AUDIO / "three_turns.json").read_text())

    async def body(answer: Answerer, pids: Callable[[], dict[str, int]]) -> dict[str, Any]:
        procs = pids()
        before, t0 = cpu_seconds(procs), time.monotonic()
        results = await asyncio.gather(*[
            _staggered(i * args.stagger_s, run_caller(wav, labels, answer, f"call{i}",
                                                     args.hold_s))
            for i in range(args.calls)])
        wall = time.monotonic() - t0
        after = cpu_seconds(procs)
        return {"results": results, "wall_s": wall,
                "cpu_s": {k: after[k] - before[k] for k in procs}}

    run = with_serve if args.url else with_runtime
    out = await run(args, body)
    results: list[CallResult] = out.pop("results")
    lat = sorted(x for r in results for x in r.latencies_s)
    call_s = args.calls * out["wall_s"]
    return {
        "calls": args.calls,
        "mode": "serve" if args.url else "runtime",
        "wall_s": round(out["wall_s"], 2),
        "cpu_per_call_pct": {k: round(100 * v / call_s, 2) for k, v in out["cpu_s"].items()},
        "latency_ms": {
            "p50": round(1000 * statistics.median(lat), 1) if lat else None,
            "p99": round(1000 * float(np.percentile(lat, 99)), 1) if lat else None,
            "n": len(lat)},
        "glitch_frames": sum(r.glitches for r in results),
        "echo_frames": sum(r.echo_frames for r in results),
        "missing_turns": sum(r.missing_turns for r in results),
        "edge_counters": out.get("edge_counters", {}),
    }


async def _staggered(delay: float, work: Awaitable[CallResult]) -> CallResult:
    await asyncio.sleep(delay)
    return await work


def table(rows: list[dict[str, Any]]) -> str:
    procs = sorted({p for r in rows for p in r["cpu_per_call_pct"]})
    head = ["calls", *[f"{p} %/call" for p in procs], "e2e p50 ms", "e2e p99 ms",
            "glitches/echo frames", "missing turns"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r["calls"]), *[f"{r['cpu_per_call_pct'].get(p, float('nan')):.2f}"
                                    for p in procs],
                 str(r["latency_ms"]["p50"]), str(r["latency_ms"]["p99"]),
                 f"{r['glitch_frames']}/{r['echo_frames']}", str(r["missing_turns"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    procs = sorted({p for r in rows for p in r["cpu_per_call_pct"]})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / max(1, len(rows))
    for i, r in enumerate(rows):
        xs = np.arange(len(procs)) + i * width
        ax1.bar(xs, [r["cpu_per_call_pct"].get(p, 0) for p in procs], width,
                label=f"{r['calls']} calls")
    ax1.set_xticks(np.arange(len(procs)) + width * (len(rows) - 1) / 2, procs, rotation=30)
    ax1.set_ylabel("CPU % per call")
    ax1.legend()
    calls = [r["calls"] for r in rows]
    ax2.plot(calls, [r["latency_ms"]["p50"] or 0 for r in rows], "o-", label="p50")
    ax2.plot(calls, [r["latency_ms"]["p99"] or 0 for r in rows], "s-", label="p99")
    ax2.set_xlabel("concurrent calls")
    ax2.set_ylabel("end of speech -> first reply audio at the caller (ms)")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, nargs="+", default=[1])
    ap.add_argument("--url", default="", help="a running voxpipe serve (http://127.0.0.1:PORT)")
    ap.add_argument("--serve-pid", type=int, default=0)
    ap.add_argument("--stagger-s", type=float, default=0.1)
    ap.add_argument("--hold-s", type=float, default=3.0, help="after the file: the last echo")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    rows = []
    for n in args.calls:
        one = argparse.Namespace(**{**vars(args), "calls": n})
        rows.append(asyncio.run(load(one)))
        print(json.dumps(rows[-1]), flush=True)
    print(table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1))
    if args.plot:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
