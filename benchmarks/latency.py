"""Per-hop pipeline latency with N concurrent file sessions against the offline model.

Prints a table and JSON: p50/p99/max of each hop from the stages' header
timestamps (capture->dsp, dsp->model websocket send, model receive->playout
receive, model receive->first sample played), the CPU each stage process used
(% of one core over the run), agent-audio underruns (audible gaps) and the
first-audio latency per turn.

    python benchmarks/latency.py --sessions 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ipc.stats import percentiles  # noqa: E402
from pipeline.model_server.launcher import ModelServerProcess  # noqa: E402
from pipeline.supervisor.runtime import Runtime  # noqa: E402
from pipeline.supervisor.session import SessionSpec  # noqa: E402
from pipeline.transports.file.spec import file_transport  # noqa: E402

HOPS = (
    ("dsp", "capture_to_dsp", "capture -> dsp"),
    ("model", "dsp_to_model_sent", "dsp -> model ws send"),
    ("playout", "dsp_to_playout", "dsp -> playout (user)"),
    ("playout", "model_rx_to_playout_rx", "model rx -> playout rx"),
    ("playout", "model_rx_to_first_played", "model rx -> 1st sample out"),
)


def _cpu(pid: int) -> float:
    try:
        t = psutil.Process(pid).cpu_times()
        return float(t.user + t.system)
    except psutil.Error:
        return float("nan")


async def run(n: int, wav: Path, out_root: Path, stagger_s: float,
              engine: str = "echo") -> dict[str, Any]:
    # The echo engine by default: it answers in ~1 ms, so what is measured is the pipeline.
    server = ModelServerProcess(["--engine", engine])
    url = await asyncio.to_thread(server.start)
    assert server.proc is not None
    server_pid = server.proc.pid
    try:
        async with Runtime() as rt:
            pids = dict(rt.pids())
            pids["supervisor"] = os.getpid()
            pids["model-server"] = server_pid
            cpu0 = {k: _cpu(p) for k, p in pids.items()}
            t0 = time.monotonic()
            sessions = []
            for i in range(n):
                spec = SessionSpec(file_transport(wav), out_dir=out_root / f"s{i:03d}",
                                   model_url=url, session_id=f"bench{i:03d}")
                sessions.append(rt.start_session(spec))
                await asyncio.sleep(stagger_s)
            summaries = await asyncio.wait_for(
                asyncio.gather(*(s.closed for s in sessions)), 600)
            wall = time.monotonic() - t0
            stats = await rt.stage_stats()
            restarts = {k: st.restarts for k, st in rt.arbiter.stages.items()} if rt.arbiter \
                else {}
            cpu = {k: round(100 * (_cpu(p) - cpu0[k]) / wall, 1) for k, p in pids.items()
                   if pids.get(k) == p}
    finally:
        server.stop()
    hops = {label: percentiles(stats[stage].latency_us.get(key, []))
            for stage, key, label in HOPS if stage in stats}
    lat = [t.first_audio_latency_ms for s in summaries for t in s.turns
           if t.first_audio_latency_ms is not None]
    turns_expected = sum(len(s.turns) for s in summaries)
    counters = {k: v.counters for k, v in stats.items()}
    return {
        "sessions": n, "wall_s": round(wall, 2), "cpu_pct_of_core": cpu, "hops": hops,
        "first_audio_latency_ms": percentiles([int(x * 1000) for x in lat]),
        "turns": {"heard": turns_expected, "answered": len(lat)},
        "errors": [s.error for s in summaries if s.error],
        "underrun_frames": counters.get("playout", {}).get("underrun_frames", 0),
        "late_frames_skipped": counters.get("playout", {}).get("late_frames_skipped", 0),
        "seq_gaps": counters.get("dsp", {}).get("seq_gaps", 0),
        "stage_restarts": restarts,
        "loadavg": os.getloadavg(),
    }


def print_table(r: dict[str, Any]) -> None:
    print(f"\n{r['sessions']} sessions, {r['wall_s']} s wall, loadavg {r['loadavg'][0]:.2f}")
    print(f"{'hop':26} {'n':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for label, p in r["hops"].items():
        print(f"{label:26} {p['n']:7d} {p['p50_ms']:8.2f} {p['p99_ms']:8.2f} {p['max_ms']:8.2f}")
    f = r["first_audio_latency_ms"]
    print(f"{'end of turn -> 1st audio':26} {f['n']:7d} {f['p50_ms']:8.0f} {f['p99_ms']:8.0f} "
          f"{f['max_ms']:8.0f}   (includes the model's 500 ms silence window)")
    print("CPU % of one core: " + ", ".join(f"{k} {v}" for k, v in r["cpu_pct_of_core"].items()))
    print(f"turns answered {r['turns']['answered']}/{r['turns']['heard']}, underrun frames "
          f"{r['underrun_frames']}, late frames {r['late_frames_skipped']}, seq gaps "
          f"{r['seq_gaps']}, errors {len(r['errors'])}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--input", type=Path, default=ROOT / "examples/audio/three_turns.wav")
    p.add_argument("--stagger-ms", type=float, default=37.0,
                   help="delay between session starts, so turns do not all coincide")
    p.add_argument("--json", type=Path, help="also write the JSON here")
    p.add_argument("--engine", choices=("echo", "dialogue"), default="echo",
                   help="offline model engine (echo isolates the pipeline's own cost)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="voxpipe-bench-") as tmp:
        result = asyncio.run(run(args.sessions, args.input, Path(tmp), args.stagger_ms / 1000,
                                 args.engine))
    print(json.dumps(result, indent=1))
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0 if not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
