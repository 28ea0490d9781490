"""N concurrent SIPp phone calls (G.711 RTP) against ``voxpipe serve --sip``, judged
from the wire.

The run of ``tests/telephony/test_sipp_load.py`` as a benchmark: SIPp places N calls
at once (``scenarios/load.xml``: each says one 2.1 s turn and hears the echo engine's
reply), and the RTP on the loopback interface is captured (``tests/telephony/wire.py``;
root only) so everything about the replies is **counted from what the callers
received**: glitched 20 ms frames and lost packets inside each echo, the echo's
cross-correlation with the turn, and end of the caller's turn on the wire -> the first
reply packet with audio (p50/p99). From the processes (psutil, by title): CPU seconds
and % of one core per call of each stage, the supervisor and the model server.
Peers' per-call figures from PERF-ANCHORS.md (WebRTC and LiveKit rooms: different
transports) stand beside ours as ratios. Writes JSON, prints a table, plots a PNG.

    PYTHONPATH=$PWD nice -n 5 .venv/bin/python benchmarks/sip_load.py --calls 20 --out out
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.report import write_json  # noqa: E402
from benchmarks.webrtc_load import (  # noqa: E402
    PEERS,
    SERVER_PROCS,
    cpu_seconds,
    idle_pct,
    server_pids,
    stage_restarts,
)
from tests.debian import find_or_install_sipp  # noqa: E402
from tests.telephony.conftest import start_sip_server  # noqa: E402
from tests.telephony.sipp import run_scenario  # noqa: E402
from tests.telephony.test_sipp import caller_turn  # noqa: E402
from tests.telephony.wire import LoopbackCapture, reply_heard, streams  # noqa: E402

TOTALS = ("voxpipe w/o model-server", "voxpipe total")


def latency_s(said: list[float], replied: list[float]) -> float | None:
    """End of the caller's turn (its last audible packet on the wire) -> the first
    audible reply packet after it."""
    if not said:
        return None
    after = [t for t in replied if t > said[-1]]
    return after[0] - said[-1] if after else None


def run(n: int, work: Path) -> dict[str, Any]:
    sipp = find_or_install_sipp()
    server = start_sip_server(work / "calls", "--max-sessions", str(n), "--admission", "off")
    try:
        pids = server_pids(server.process.proc.pid)
        (work / "sipp").mkdir()
        turn = caller_turn(work / "sipp" / "caller.ulaw")
        idle = idle_pct(pids, 3.0)
        metrics0, load0 = server.process.metrics(), os.getloadavg()[0]
        with LoopbackCapture() as capture:
            cpu0, t0 = cpu_seconds(pids), time.monotonic()
            sip = run_scenario(sipp, "load", server.address, work / "sipp", timeout_s=120,
                               calls=n, extra=("-l", str(n), "-r", str(n)))
            wall, cpu1 = time.monotonic() - t0, cpu_seconds(pids)
        time.sleep(2)  # the last sessions close and count
        metrics1 = server.process.metrics()
    finally:
        server.process.stop()
        (work / "serve.log").write_text(server.process.output)
    ports = sip.answer_ports()
    heard_by = streams(capture.datagrams, ports)
    said_by = streams(capture.datagrams, ports, to=True)
    heard = [reply_heard(s, turn) for s in heard_by.values()]
    per_call = [{"edge_port": port, "xcorr": round(h.xcorr, 3), "start_s": round(h.start_s, 3),
                 "glitched_at": list(h.glitched_at), "lost": h.lost_packets,
                 "packets": len(heard_by[port].packets)}
                for port, h in zip(heard_by, heard, strict=True)]
    lat = sorted(x for p, s in heard_by.items()
                 if (x := latency_s(said_by[p].loud() if p in said_by else [], s.loud()))
                 is not None)
    xc = [h.xcorr for h in heard]
    cpu_s = {k: (cpu1[k] - cpu0[k]) / n for k in pids}
    # The model server stands in for a hosted model: the stages and supervisor apart.
    cpu_s["voxpipe w/o model-server"] = sum(v for k, v in cpu_s.items() if k != "model-server")
    cpu_s["voxpipe total"] = sum(cpu_s[k] for k in pids)
    return {
        "calls": n, "sipp_exit": sip.returncode, "calls_answered": len(ports),
        "calls_heard": len(heard), "wall_s": round(wall, 2),
        "loadavg_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "cpu_s_per_call": {k: round(v, 4) for k, v in cpu_s.items()},
        "cpu_pct_per_call": {k: round(100 * v / wall, 3) for k, v in cpu_s.items()},
        "glitched_frames_wire": sum(h.glitched_frames for h in heard),
        "lost_packets_wire": sum(h.lost_packets for h in heard),
        "echo_frames": sum(h.frames for h in heard),
        "glitched_frames_counted": sum(
            v - metrics0.get(k, 0.0) for k, v in metrics1.items()
            if k.startswith("voxpipe_glitch_frames")),
        "echo_xcorr": {"min": round(min(xc), 3) if xc else None,
                       "median": round(statistics.median(xc), 3) if xc else None},
        "latency_ms": {"p50": round(1000 * float(np.percentile(lat, 50)), 1) if lat else None,
                       "p99": round(1000 * float(np.percentile(lat, 99)), 1) if lat else None,
                       "n": len(lat)},
        "captured_frames": capture.frames,
        "idle_pct_of_core": idle,
        "stage_restarts": stage_restarts(work / "serve.log"),
        "per_call": per_call,
    }


def table(r: dict[str, Any]) -> str:
    procs = [p for p in (*SERVER_PROCS, *TOTALS) if p in r["cpu_s_per_call"]]
    lines = [f"{r['calls']} SIPp calls ({r['calls_answered']} answered, {r['calls_heard']} "
             f"heard on the wire), wall {r['wall_s']} s, loadavg {r['loadavg_1min']}, "
             f"stage restarts {r['stage_restarts']}", "",
             "| process | CPU s per call | % of a core per call |", "|---|---|---|"]
    lines += [f"| {p} | {r['cpu_s_per_call'][p]:.3f} | {r['cpu_pct_per_call'][p]:.2f} |"
              for p in procs]
    lat, xc = r["latency_ms"], r["echo_xcorr"]
    lines += ["", "Idle, no call (% of one core, not per call): "
              + ", ".join(f"{k} {v:.2f}" for k, v in r["idle_pct_of_core"].items()), "",
              f"glitched frames (wire) {r['glitched_frames_wire']} of {r['echo_frames']}, "
              f"lost packets {r['lost_packets_wire']}; playout's counter "
              f"{r['glitched_frames_counted']:g}",
              f"echo xcorr min {xc['min']} median {xc['median']}; first reply on the wire "
              f"p50 {lat['p50']} ms p99 {lat['p99']} ms (n={lat['n']})", "",
              "Peers (PERF-ANCHORS.md; different transports: WebRTC/Opus and LiveKit rooms, "
              "not SIP/G.711): ratio = ours / theirs, % of a core per call", "",
              "| peer | theirs % | edge / theirs | w/o model-server / theirs "
              "| voxpipe total / theirs |",
              "|---|---|---|---|---|"]
    c = r["cpu_pct_per_call"]
    lines += [f"| {name} | {v:.1f} | {c.get('edge', float('nan')) / v:.3f} | "
              f"{c[TOTALS[0]] / v:.3f} | {c[TOTALS[1]] / v:.3f} |" for name, v in PEERS.items()]
    return "\n".join(lines)


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    procs = [p for p in (*SERVER_PROCS, *TOTALS) if p in r["cpu_pct_per_call"]]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.bar(procs, [r["cpu_pct_per_call"][p] for p in procs], label=f"{r['calls']} SIP calls")
    for name, v in PEERS.items():
        ax.axhline(v, ls="--", lw=0.8, color="grey")
        ax.annotate(f"{name} (other transport)", (len(procs) - 0.5, v), fontsize=7,
                    ha="right", va="bottom")
    ax.set_ylabel("CPU % of one core, per call")
    ax.set_title(f"SIP/G.711: glitched frames on the wire {r['glitched_frames_wire']}, "
                 f"p99 first reply {r['latency_ms']['p99']} ms", fontsize=9)
    ax.tick_params(axis="x", rotation=30)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--out", type=Path, default=None, help="write sip_load.json and .png here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="voxpipe-sipload-") as tmp:
        r = run(args.calls, Path(tmp))
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "serve.log").write_text((Path(tmp) / "serve.log").read_text())
    write_json(r, args.out / "sip_load.json" if args.out else None)
    print(table(r))
    if args.out:
        plot(r, args.out / "sip_load.png")
        print(f"plot: {args.out / 'sip_load.png'}")
    return 0 if r["sipp_exit"] == 0 and r["calls_heard"] == args.calls \
        and not r["stage_restarts"] else 1


if __name__ == "__main__":
    sys.exit(main())
