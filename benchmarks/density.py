"""Session density: N concurrent realtime sessions against an echo server, swept over N.

The offline model server's echo engine runs as its own process (an OpenAI-protocol
server on this machine); each session plays the input (default the bundled three-turn
call, twice over: ``--repeat``) paced in real time. For each N: CPU per stage and in
total (% of one core while all N sessions are live, the steady window), the processes'
peak RSS, end of speech -> first reply p50/p99, lost turns and glitched replies, these
last three **counted from the recorded audio** (``density_audio.py``), with playout's
own glitch counter beside them (gaps and frames: they should be equal). Admission
control is off (the sweep measures what happens past capacity). Writes JSON, prints a
table with the peers' figures from PERF-ANCHORS.md beside ours as ratios, plots CPU
and p99 against N (PNG).

    python benchmarks/density.py --sessions 5,10,20,40 --out /tmp/density
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.density_audio import turns_heard  # noqa: E402
from benchmarks.report import write_json  # noqa: E402
from pipeline.model_server.launcher import ModelServerProcess  # noqa: E402
from pipeline.process import (  # noqa: E402
    DEFAULT_STAGE_NICE,
    STAGE_NICE_ENV,
    renice,
    stage_nice_step,
)
from pipeline.supervisor.runtime import Runtime, RuntimeOptions  # noqa: E402
from pipeline.supervisor.session import SessionSpec  # noqa: E402
from pipeline.transports.file.spec import file_transport  # noqa: E402

ANCHORS = Path("/work/shared/PERF-ANCHORS.md")
ANCHOR_SECTION = "## Session density with a realtime model"
SETTLE_S = 1.0  # after the last start, before the steady window opens
MIN_WINDOW_S = 3.0  # a shorter steady window says too little


class ProcessMeter:
    """CPU seconds and peak RSS of a set of named processes over a run."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.procs = {k: psutil.Process(p) for k, p in pids.items()}
        self.cpu0 = {k: self._cpu(p) for k, p in self.procs.items()}
        self.t0 = time.monotonic()
        self.peak_rss_mb = 0.0

    @staticmethod
    def _cpu(p: psutil.Process) -> float:
        try:
            t = p.cpu_times()
            return float(t.user + t.system)
        except psutil.Error:
            return float("nan")

    def sample_rss(self, only: tuple[str, ...]) -> None:
        total = 0
        for k, p in self.procs.items():
            if k in only:
                with contextlib.suppress(psutil.Error):  # gone (restarting): not counted
                    total += p.memory_info().rss
        self.peak_rss_mb = max(self.peak_rss_mb, total / 2**20)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def cpu_pct(self) -> dict[str, float]:
        wall = self.elapsed()
        return {k: round(100 * (self._cpu(p) - self.cpu0[k]) / wall, 2)
                for k, p in self.procs.items()}


async def run_n(n: int, wav: Path, labels: dict[str, Any], url: str, server_pid: int,
                out: Path, stagger_s: float) -> dict[str, Any]:
    """N sessions started ``stagger_s`` apart; CPU over the steady window in which all N
    are live (from the last start, settled, to the first end), the rest from the
    recordings."""
    async with Runtime(RuntimeOptions(admission=None)) as rt:
        pids = {**rt.pids(), "supervisor": os.getpid(), "model-server": server_pid}
        ours = tuple(k for k in pids if k != "model-server")
        sessions = []
        for i in range(n):
            spec = SessionSpec(file_transport(wav), out_dir=out / f"d{i:03d}", model_url=url,
                               session_id=f"d{n}-{i:03d}")
            sessions.append(rt.start_session(spec))
            await asyncio.sleep(stagger_s)
        await asyncio.sleep(SETTLE_S)  # the last ones' model links connect
        meter = ProcessMeter(pids)
        closed = [asyncio.ensure_future(s.closed) for s in sessions]
        while not any(c.done() for c in closed):
            meter.sample_rss(ours)
            await asyncio.wait(closed, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
        cpu, window_s = meter.cpu_pct(), meter.elapsed()
        summaries = await asyncio.gather(*closed)
    if window_s < MIN_WINDOW_S:
        raise SystemExit(f"N={n}: all sessions were live together for only {window_s:.1f} s; "
                         "lengthen the call (--repeat) or shorten --stagger-ms")
    heard = [t for s in summaries if s.wav is not None for t in turns_heard(s.wav, labels)]
    lat = [t.latency_s for t in heard if t.latency_s is not None]
    expected = n * len(labels["turns"])
    return {
        "sessions": n,
        "cpu_pct_of_core": cpu,
        "cpu_pct_total": round(sum(v for k, v in cpu.items() if k in ours), 2),
        "steady_window_s": round(window_s, 1),
        "peak_rss_mb": round(meter.peak_rss_mb, 1),
        "first_reply_p50_s": round(float(np.percentile(lat, 50)), 3) if lat else None,
        "first_reply_p99_s": round(float(np.percentile(lat, 99)), 3) if lat else None,
        "lost_turns": expected - len(lat),
        "glitched_replies": sum(t.glitched_frames > 0 for t in heard),
        "gaps_audio": sum(t.gaps for t in heard),
        "gaps_counted": sum(s.glitch_runs for s in summaries),
        "glitched_frames_audio": sum(t.glitched_frames for t in heard),
        "glitched_frames_counted": sum(s.glitches for s in summaries),
        "errors": [s.error for s in summaries if s.error],
        "loadavg": round(os.getloadavg()[0], 2),
    }


def repeated_call(wav: Path, labels: dict[str, Any], times: int,
                  out: Path) -> tuple[Path, dict[str, Any]]:
    """The call played ``times`` over in one WAV, and its turns' labels: a longer call,
    so that N sessions started a stagger apart are all live together for a while."""
    if times == 1:
        return wav, labels
    with wave.open(str(wav)) as w:
        params, pcm = w.getparams(), w.readframes(w.getnframes())
    length_s = params.nframes / params.framerate
    path = out / f"{wav.stem}_x{times}.wav"
    with wave.open(str(path), "wb") as w:
        w.setparams(params)
        w.writeframes(pcm * times)
    turns = [{**t, "onset_s": t["onset_s"] + k * length_s,
              "offset_s": t["offset_s"] + k * length_s}
             for k in range(times) for t in labels["turns"]]
    return path, {**labels, "turns": turns}


def slope_pct_per_session(results: list[dict[str, Any]]) -> float | None:
    """CPU % of a core per added session: the least-squares slope of total CPU over N."""
    if len(results) < 2:
        return None
    ns = np.array([r["sessions"] for r in results], dtype=float)
    cpu = np.array([r["cpu_pct_total"] for r in results], dtype=float)
    return round(float(np.polyfit(ns, cpu, 1)[0]), 3)


def peer_rows(path: Path = ANCHORS) -> list[dict[str, str]]:
    """The density table of PERF-ANCHORS.md: system, sustained, gap-free, CPU/session."""
    if not path.exists():
        return []
    text = path.read_text()
    start = text.find(ANCHOR_SECTION)
    rows = []
    for line in text[start:].splitlines()[1:] if start >= 0 else []:
        if line.startswith("## "):
            break
        cells = [c.strip().replace("*", "") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and line.startswith("|") and not set(cells[0]) <= {"-"} \
                and cells[0] != "system":
            rows.append({"system": cells[0], "sustained": cells[1], "gap_free": cells[2],
                         "cpu_per_session": cells[3]})
    return rows


def _first_number(text: str) -> float | None:
    m = re.search(r"\d+(?:\.\d+)?", text)
    return float(m.group()) if m else None


def print_table(results: list[dict[str, Any]], slope: float | None) -> None:
    print("\nCPU: % of one core while all N sessions are live (steady window), voxpipe's "
          "processes without the model server; glitches: audio = read from the recordings, "
          "counted = playout's counter")
    print(f"\n{'N':>5} {'cpu %':>7} {'win s':>6} {'rss MB':>7} {'p50 s':>6} {'p99 s':>6} "
          f"{'lost':>5} {'glitched':>8} {'gaps audio/counted':>19} "
          f"{'frames audio/counted':>21}  per stage % of a core")
    for r in results:
        stages = ", ".join(f"{k} {v}" for k, v in r["cpu_pct_of_core"].items())
        print(f"{r['sessions']:5d} {r['cpu_pct_total']:7.1f} {r['steady_window_s']:6.1f} "
              f"{r['peak_rss_mb']:7.0f} "
              f"{r['first_reply_p50_s'] or float('nan'):6.2f} "
              f"{r['first_reply_p99_s'] or float('nan'):6.2f} {r['lost_turns']:5d} "
              f"{r['glitched_replies']:8d} "
              f"{r['gaps_audio']:>9d}/{r['gaps_counted']:<9d} "
              f"{r['glitched_frames_audio']:>10d}/{r['glitched_frames_counted']:<10d}  {stages}")
    clean = [r["sessions"] for r in results if r["lost_turns"] == 0 and not r["glitched_replies"]]
    ours_gap_free = max(clean, default=0)
    print(f"\nCPU per added session (slope): {slope} % of a core; largest N without a lost "
          f"turn or a glitched reply in this sweep: {ours_gap_free} (a lower bound: the sweep "
          "stops at its largest N)")
    peers = peer_rows()
    if not peers:
        print(f"(no peer figures: {ANCHORS} not found)")
        return
    print("\npeers (PERF-ANCHORS.md) beside ours; ratio = ours / theirs")
    for p in peers:
        gap_free, cpu = _first_number(p["gap_free"]), _first_number(p["cpu_per_session"])
        gf = f"{ours_gap_free / gap_free:.2f}" if gap_free else "-"
        cr = f"{slope / cpu:.2f}" if slope is not None and cpu else "-"
        print(f"  {p['system'][:60]:60} gap-free {p['gap_free']:>6} (ratio {gf}); "
              f"cpu/session {p['cpu_per_session'][:24]:24} (ratio {cr})")


def plot(results: list[dict[str, Any]], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [r["sessions"] for r in results]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ns, [r["cpu_pct_total"] for r in results], "o-", label="total (voxpipe)")
    for stage in results[0]["cpu_pct_of_core"]:
        ax.plot(ns, [r["cpu_pct_of_core"].get(stage, 0.0) for r in results], ".--", label=stage)
    ax.set(xlabel="sessions", ylabel="% of one core", title="CPU against N")
    ax.legend(fontsize=7)
    cpu_png = out / "density_cpu.png"
    fig.savefig(cpu_png, dpi=100)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ns, [r["first_reply_p99_s"] or np.nan for r in results], "o-", label="p99")
    ax.plot(ns, [r["first_reply_p50_s"] or np.nan for r in results], ".--", label="p50")
    ax.set(xlabel="sessions", ylabel="s", title="end of speech -> first reply")
    ax.legend()
    p99_png = out / "density_p99.png"
    fig.savefig(p99_png, dpi=100)
    plt.close("all")
    return [cpu_png, p99_png]


def server_priority(pid: int, step: int) -> int | None:
    """Run the echo server ``step`` niceness steps from this process (where the stages
    start too); its niceness, or None when raising it is not allowed here.

    The server stands in for a remote model. Left below the stages, which run 10 steps
    above their parent by design, it got the cores only when they were idle, and its
    replies' latency under load was charged to voxpipe: at 500 sessions p99 1.64 and
    1.88 s at niceness 0, 0.97 s level with the stages.
    """
    target, allowed = renice(step, pid)
    if not allowed:
        print(f"note: the echo server stays at its niceness (raising it to {target} needs "
              "CAP_SYS_NICE)", file=sys.stderr)
        return None
    return target


async def sweep(ns: list[int], wav: Path, labels: dict[str, Any], stagger_s: float,
                pace: float, keep: Path | None = None,
                server_nice: int = DEFAULT_STAGE_NICE) -> list[dict[str, Any]]:
    server = ModelServerProcess(["--engine", "echo", "--pace", str(pace)])
    url = await asyncio.to_thread(server.start)
    assert server.proc is not None
    if server_nice:
        server_priority(server.proc.pid, server_nice)
    results = []
    try:
        for n in ns:
            with tempfile.TemporaryDirectory(prefix="voxpipe-density-") as tmp:
                out = Path(tmp) if keep is None else keep / f"n{n}"
                results.append(await run_n(n, wav, labels, url, server.proc.pid, out,
                                           stagger_s))
            print(f"N={n}: {json.dumps(results[-1])}", file=sys.stderr, flush=True)
    finally:
        server.stop()
    return results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", default="5,10,20,40", help="the N to sweep, comma-separated")
    p.add_argument("--input", type=Path, default=ROOT / "examples/audio/three_turns.wav")
    p.add_argument("--labels", type=Path, default=None,
                   help="the input's turn labels (default: the input's .json beside it)")
    p.add_argument("--stagger-ms", type=float, default=37.0,
                   help="delay between session starts, so turns do not all coincide")
    p.add_argument("--pace", type=float, default=0.0,
                   help="the echo server's reply pacing: 0 as fast as it can, 1 real time")
    p.add_argument("--repeat", type=int, default=2,
                   help="play the input this many times over in each session, so that all N "
                        "sessions are live together long enough to measure (default 2)")
    p.add_argument("--out", type=Path, default=None, help="write density.json and PNGs here")
    p.add_argument("--keep", type=Path, default=None,
                   help="keep each N's session recordings under KEEP/n<N>/ (default: deleted)")
    p.add_argument("--server-nice", type=int, default=None,
                   help="the echo server's niceness step from this process (default: the "
                        f"stages', ${STAGE_NICE_ENV} or {DEFAULT_STAGE_NICE}; 0 leaves it)")
    args = p.parse_args()
    server_nice = args.server_nice if args.server_nice is not None else stage_nice_step()
    ns = sorted({int(x) for x in args.sessions.split(",") if x.strip()})
    if args.repeat < 1:
        p.error(f"--repeat must be >= 1, got {args.repeat}")
    labels = json.loads((args.labels or args.input.with_suffix(".json")).read_text())
    with tempfile.TemporaryDirectory(prefix="voxpipe-density-call-") as tmp:
        wav, labels = repeated_call(args.input, labels, args.repeat, Path(tmp))
        results = asyncio.run(sweep(ns, wav, labels, args.stagger_ms / 1000, args.pace,
                                    args.keep, server_nice))
    slope = slope_pct_per_session(results)
    doc = {"results": results, "cpu_pct_per_added_session": slope, "peers": peer_rows(),
           "input": str(args.input), "repeat": args.repeat, "pace": args.pace,
           "server_nice_step": server_nice,
           "nproc": os.cpu_count()}
    write_json(doc, args.out / "density.json" if args.out else None)
    print_table(results, slope)
    if args.out:
        print("plots: " + ", ".join(str(x) for x in plot(results, args.out)))
    return 0 if not any(r["errors"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
