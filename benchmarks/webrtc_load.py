"""N concurrent WebRTC calls from aiortc caller peers against ``voxpipe serve``.

Starts ``voxpipe serve --model-engine echo`` on 127.0.0.1 (or attaches to one: ``--url``,
and ``--serve-pid`` to sample its processes). The callers (no browser) run in worker
processes on this same machine, a few calls each, so a caller process never saturates a
core and the measurement is of voxpipe. Each caller plays the bundled three-turn call
(paced in real time, Opus) and records the reply as it arrives. From the audio only, at
the callers: end of each user turn -> first reply audio heard (p50/p99), and glitches
(20 ms frames of the echo that are silent or missing where the user's turn had signal).
From the processes (psutil, by title ``voxpipe: <stage>``): CPU per call of each stage,
the model server, the supervisor and the callers. ``py-spy`` samples the edge during the
``--profile-at`` run: where its CPU goes.

    PYTHONPATH=$PWD nice -n 5 .venv/bin/python benchmarks/webrtc_load.py --calls 1 10 50 \
        --json out/webrtc_load.json --plot out/webrtc_load.png
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.report import write_json  # noqa: E402

AUDIO = ROOT / "examples" / "audio"
FRAME_S = 0.02
HEARD_DBFS = -40.0  # a received frame louder than this is reply audio
SIGNAL_DBFS = -45.0  # a user frame louder than this must be echoed
GAP_DBFS = -60.0  # an echo frame quieter than this where the user spoke is a glitch
ALIGN_FRAMES = 3
STAGES = ("capture", "dsp", "model", "playout", "edge")
SERVER_PROCS = ("supervisor", "model-server", *STAGES)
# PERF-ANCHORS.md, "Live transports": % of one core per call.
PEERS = {"aiortc 1-call process": 11.0, "LiveKit ~30 agents/4 cores": 400 / 30,
         "LiveKit 10-25 agents/4 cores": 400 / 17.5}


def _frame_db(x: np.ndarray, n: int) -> np.ndarray:
    m = len(x) // n
    rms = np.sqrt(np.mean(x[: m * n].reshape(m, n) ** 2, axis=1) + 1e-20)
    return np.asarray(20 * np.log10(rms))


def analyse(caller: Any, labels: dict[str, Any]) -> dict[str, Any]:
    """Latency and glitches of each turn's echo, from what the caller heard."""
    res: dict[str, Any] = {"latencies_s": [], "glitches": 0, "echo_frames": 0,
                           "missing_turns": 0, "frames_heard": len(caller.chunks),
                           "mic_started": caller.mic.started_at is not None,
                           "states": caller.states}
    if caller.mic.started_at is None or not caller.chunks:
        res["missing_turns"] = len(labels["turns"])
        return res
    levels = np.array([20 * np.log10(np.sqrt(np.mean((c / 32768.0) ** 2)) + 1e-12)
                       for c in caller.chunks])
    arrivals = np.array(caller.arrivals)
    heard = caller.received()  # frames the sender skipped or the network lost: silence
    said = caller.mic.samples.astype(np.float64) / 32768.0
    n_said, n_heard = int(caller.mic.rate * FRAME_S), int(48000 * FRAME_S)
    for turn in labels["turns"]:
        end_at = caller.mic.started_at + turn["offset_s"]
        after = np.flatnonzero((arrivals > end_at) & (levels > HEARD_DBFS))
        if after.size == 0:
            res["missing_turns"] += 1
            continue
        first = int(after[0])
        res["latencies_s"].append(float(arrivals[first] - end_at))
        # The echo replays the turn: user frames with signal must be heard in it.
        user_db = _frame_db(said[int(turn["onset_s"] * caller.mic.rate):
                                 int(turn["offset_s"] * caller.mic.rate)], n_said)
        speech = user_db[int(np.argmax(user_db > SIGNAL_DBFS)):] > SIGNAL_DBFS
        start = (caller.pts[first] - caller.pts[0]) // n_heard
        echo_db = _frame_db(heard[max(0, start - ALIGN_FRAMES) * n_heard:
                                  (start + len(speech) + ALIGN_FRAMES) * n_heard], n_heard)
        # The echo's first audible frame and the turn's first loud one need not be the
        # same 20 ms: the best of a few frames' alignments is the one compared.
        misses = [int(np.sum(speech & (echo_db[k: k + len(speech)] < GAP_DBFS)))
                  for k in range(0, 2 * ALIGN_FRAMES + 1) if k + len(speech) <= len(echo_db)]
        res["echo_frames"] += int(speech.sum())
        res["glitches"] += min(misses) if misses else int(speech.sum())
    return res


async def one_call(http: Any, url: str, wav: Path, labels: dict[str, Any],
                   delay_s: float, hold_s: float) -> dict[str, Any]:
    from tests.transports.web.client import WebCaller

    await asyncio.sleep(delay_s)
    # RTCConfiguration(iceServers=[]): host candidates only; Opus on the caller's loop
    caller = WebCaller(wav, inline_opus=True)
    try:
        async with http.post(f"{url}/api/offer", json=await caller.offer_body()) as resp:
            if resp.status != 200:
                return {"failed": f"HTTP {resp.status}: {await resp.text()}"}
            await caller.accept(await resp.json())
        while not caller.mic.done:
            await asyncio.sleep(0.2)
        await asyncio.sleep(hold_s)  # the last echo
    finally:
        with contextlib.suppress(TimeoutError):  # a peer whose far end vanished hangs
            await asyncio.wait_for(caller.close(), 10)
    return analyse(caller, labels)


async def _callers(url: str, delays: list[float], hold_s: float) -> list[dict[str, Any]]:
    import aiohttp

    wav, labels = AUDIO / "three_turns.wav", json.loads((AUDIO / "three_turns.json").read_text())
    async with aiohttp.ClientSession() as http:
        return list(await asyncio.gather(*[one_call(http, url, wav, labels, d, hold_s)
                                           for d in delays], return_exceptions=False))


def caller_worker(url: str, delays: list[float], hold_s: float, start_at: float
                  ) -> tuple[list[dict[str, Any]], float]:
    """A worker process's calls, begun at wall time ``start_at``; and its own CPU seconds."""
    time.sleep(max(0.0, start_at - time.time()))
    me = psutil.Process()
    t0 = me.cpu_times()
    results = asyncio.run(_callers(url, delays, hold_s))
    t1 = me.cpu_times()
    return results, (t1.user + t1.system) - (t0.user + t0.system)


def server_pids(serve_pid: int) -> dict[str, int]:
    """The supervisor and its children, named by their process titles."""
    root = psutil.Process(serve_pid)
    found = {"supervisor": root.pid}
    for child in root.children(recursive=True):
        title = " ".join(child.cmdline())
        if "pipeline.model_server" in title:
            found["model-server"] = child.pid
        elif title.startswith("voxpipe: "):
            found[title.split()[1]] = child.pid
        elif "pipeline.cli" in title:  # a wrapper (timeout, nice) started the real one
            found["supervisor"] = child.pid
    return found


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            t = psutil.Process(pid).cpu_times()
            out[name] = t.user + t.system
        except psutil.Error:
            out[name] = float("nan")
    return out


def profile_summary(raw: str, top: int = 12) -> dict[str, Any]:
    """py-spy's collapsed stacks (GIL holder only) -> the hottest leaf frames, and each
    package's share: its own frames (self) and with what they call (inclusive)."""
    leaf: Counter[str] = Counter()
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n, frames = int(count), stack.split(";")
        total += n
        leaf[frames[-1].strip()] += n
        own[_package(frames[-1])] += n
        for pkg in {_package(f) for f in frames}:
            incl[pkg] += n

    def pct(c: Counter[str]) -> dict[str, float]:
        return {k: round(100 * v / max(1, total), 1) for k, v in c.most_common(top)}

    return {"samples": total, "leaf_pct": pct(leaf), "package_self_pct": pct(own),
            "package_incl_pct": pct(incl)}


def _package(frame: str) -> str:
    """``fn (aiortc/rtp.py:12)`` -> ``aiortc``; voxpipe's own code by its sub-package."""
    parts = frame[frame.rfind("(") + 1:].split(":")[0].split("/")
    if parts[0] in ("pipeline", "native", "ipc"):
        return "/".join(parts[:2]).removesuffix(".py")
    return parts[0].removesuffix(".py")


def idle_pct(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """Each process's CPU % of one core with no call: the floor under the per-call share."""
    before = cpu_seconds(pids)
    time.sleep(seconds)
    after = cpu_seconds(pids)
    return {k: round(100 * (after[k] - before[k]) / seconds, 2) for k in pids}


def stage_restarts(log: Path) -> int:
    """Stages the supervisor restarted so far (a missed heartbeat or a crash)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return text.count("; restarting") - text.count("; restarting it on port")


def run_load(args: argparse.Namespace, n: int, url: str, pids: dict[str, int]) -> dict[str, Any]:
    workers = math.ceil(n / args.calls_per_worker)
    delays = [i * args.stagger_s for i in range(n)]
    start_at, load1 = time.time() + args.warmup_s, os.getloadavg()[0]
    profile, prof_path = None, args.out / f"edge_profile_{n}.txt"
    restarts = stage_restarts(args.out / "serve.log")
    with mp.get_context("spawn").Pool(workers) as pool:
        jobs = pool.starmap_async(caller_worker, [(url, delays[w::workers], args.hold_s, start_at)
                                                  for w in range(workers)])
        time.sleep(max(0.0, start_at - time.time()))
        before, t0 = cpu_seconds(pids), time.monotonic()
        if n == args.profile_at and "edge" in pids:
            time.sleep(args.stagger_s * n + 3)  # every call connected and talking
            profile = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
                 str(pids["edge"]), "--format", "raw", "--rate", "100", "--nonblocking", "--gil",
                 "--duration", str(args.profile_s), "--output", str(prof_path)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        per_worker = jobs.get(timeout=args.stagger_s * n + 120)
        wall, after = time.monotonic() - t0, cpu_seconds(pids)
    results = [r for rs, _ in per_worker for r in rs]
    ok = [r for r in results if "failed" not in r]
    lat = sorted(x for r in ok for x in r["latencies_s"])
    call_s = n * wall
    cpu = {k: 100 * (after[k] - before[k]) / call_s for k in pids}
    cpu["voxpipe total"] = sum(cpu[k] for k in pids)
    cpu["callers"] = 100 * sum(c for _, c in per_worker) / call_s
    row: dict[str, Any] = {
        "calls": n, "caller_workers": workers, "loadavg_1min": [load1, os.getloadavg()[0]],
        "wall_s": round(wall, 2), "cpu_per_call_pct": {k: round(v, 2) for k, v in cpu.items()},
        "latency_ms": {"p50": round(1000 * statistics.median(lat), 1) if lat else None,
                       "p99": round(1000 * float(np.percentile(lat, 99)), 1) if lat else None,
                       "n": len(lat)},
        "glitch_frames": sum(r["glitches"] for r in ok),
        "echo_frames": sum(r["echo_frames"] for r in ok),
        "missing_turns": sum(r["missing_turns"] for r in ok),
        "failed_calls": [r["failed"] for r in results if "failed" in r],
        "calls_connected": sum("connected" in r["states"] for r in ok),
        "calls_mic_started": sum(r["mic_started"] for r in ok),
        "frames_heard": sum(r["frames_heard"] for r in ok),
        "stage_restarts": stage_restarts(args.out / "serve.log") - restarts}
    if profile is not None:
        _, err = profile.communicate(timeout=args.profile_s + 30)
        row["edge_profile"] = (profile_summary(prof_path.read_text()) if prof_path.exists()
                               else {"error": err.decode()[-500:]})
    return row


def start_serve(max_sessions: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``voxpipe serve`` on an ephemeral loopback port; its output (logs too) to ``log``."""
    cmd = [sys.executable, "-m", "pipeline.cli", "serve", "--host", "127.0.0.1", "--port", "0",
           "--model-engine", "echo", "--max-sessions", str(max_sessions)]
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("voxpipe: serving on "):  # the line serve prints for callers
                return proc, line.removeprefix("voxpipe: serving on ").strip()
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"voxpipe serve did not listen (exit {proc.poll()}); see {log}")


def table(rows: list[dict[str, Any]]) -> str:
    procs = [*SERVER_PROCS, "voxpipe total", "callers"]
    head = ["calls", "caller procs", "load1", *[f"{p} %/call" for p in procs], "p50 ms",
            "p99 ms", "glitch/echo frames", "missing turns", "failed", "stage restarts"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r["calls"]), str(r["caller_workers"]), f"{r['loadavg_1min'][0]:.1f}",
                 *[f"{r['cpu_per_call_pct'].get(p, float('nan')):.2f}" for p in procs],
                 str(r["latency_ms"]["p50"]), str(r["latency_ms"]["p99"]),
                 f"{r['glitch_frames']}/{r['echo_frames']}", str(r["missing_turns"]),
                 str(len(r["failed_calls"])), str(r.get("stage_restarts", "?"))]
        lines.append("| " + " | ".join(cells) + " |")
    idle = rows[0].get("idle_pct", {}) if rows else {}
    lines += ["", "Idle, no call (% of one core, not per call): "
              + ", ".join(f"{k} {v:.2f}" for k, v in idle.items()),
              "", "Callers: aiortc peers in worker processes of this benchmark, on the same "
              "2 cores as voxpipe ('callers' column: their CPU per call).", "",
              "| calls | " + " | ".join(f"edge / {p}" for p in PEERS) + " | "
              + " | ".join(f"voxpipe total / {p}" for p in PEERS) + " |",
              "|" + "---|" * (1 + 2 * len(PEERS))]
    for r in rows:
        c = r["cpu_per_call_pct"]
        lines.append(f"| {r['calls']} | "
                     + " | ".join(f"{c.get('edge', float('nan')) / v:.2f}" for v in PEERS.values())
                     + " | " + " | ".join(f"{c['voxpipe total'] / v:.2f}" for v in PEERS.values())
                     + " |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    procs = [*SERVER_PROCS, "voxpipe total", "callers"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / max(1, len(rows))
    for i, r in enumerate(rows):
        ax1.bar(np.arange(len(procs)) + i * width,
                [r["cpu_per_call_pct"].get(p, 0) for p in procs], width,
                label=f"{r['calls']} calls")
    for name, v in PEERS.items():
        ax1.axhline(v, ls="--", lw=0.8, color="grey")
        ax1.annotate(name, (len(procs) - 0.5, v), fontsize=7, ha="right", va="bottom")
    ax1.set_xticks(np.arange(len(procs)) + width * (len(rows) - 1) / 2, procs, rotation=30)
    ax1.set_ylabel("CPU % of one core, per call")
    ax1.legend()
    calls = [r["calls"] for r in rows]
    ax2.plot(calls, [r["latency_ms"]["p50"] or np.nan for r in rows], "o-", label="p50")
    ax2.plot(calls, [r["latency_ms"]["p99"] or np.nan for r in rows], "s-", label="p99")
    ax2.set_xscale("log")
    ax2.set_xlabel("concurrent calls")
    ax2.set_ylabel("end of speech -> first reply audio at the caller (ms)")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--calls", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--url", default="", help="a running voxpipe serve (http://127.0.0.1:PORT)")
    ap.add_argument("--serve-pid", type=int, default=0, help="its pid, to sample its processes")
    ap.add_argument("--calls-per-worker", type=int, default=5)
    ap.add_argument("--stagger-s", type=float, default=0.1)
    ap.add_argument("--hold-s", type=float, default=3.0, help="after the file: the last echo")
    ap.add_argument("--warmup-s", type=float, default=4.0, help="caller workers import aiortc")
    ap.add_argument("--profile-at", type=int, default=10, help="py-spy the edge at this N")
    ap.add_argument("--profile-s", type=int, default=8)
    ap.add_argument("--out", type=Path, default=ROOT / "out")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    serve, url = ((None, args.url) if args.url
                  else start_serve(max(args.calls) + 5, args.out / "serve.log"))
    pids = server_pids(serve.pid if serve else args.serve_pid) if serve or args.serve_pid else {}
    rows = []
    try:
        time.sleep(5)  # serve settles
        idle = idle_pct(pids, 5.0)
        print(json.dumps({"idle_pct": idle}), flush=True)
        for n in args.calls:
            rows.append({**run_load(args, n, url, pids), "idle_pct": idle})
            print(json.dumps(rows[-1]), flush=True)
            time.sleep(6)  # the calls' sessions end before the next run
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(15)
    write_json(rows, args.json)
    print(table(rows))
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
