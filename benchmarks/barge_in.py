"""How fast the agent falls silent when the caller talks over it, and how exactly
the model is told what was heard: local VAD (dsp) vs the model's server VAD.

Each run is a real call through the five processes and the offline model: the
caller asks about the weather, the agent answers with the tool's result, and the
caller speaks over the answer 1.2 s into it. From conversation.wav: the time from
the barge-in onset to the agent channel's last sample; from events.jsonl: the
truncation point sent (``audio_end_ms``) vs what playout played. Beside it, the local
VAD's false barge-ins on the VAD tests' noise sets (``vad_false_alarms.py``).

    .venv/bin/python benchmarks/barge_in.py --runs 3 --json out/barge_in.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.agents import llm  # noqa: E402
from pipeline.agents.job import JobContext  # noqa: E402
from pipeline.agents.multimodal import MultimodalAgent  # noqa: E402
from pipeline.agents.vad import VAD  # noqa: E402
from pipeline.plugins.offline import realtime as offline  # noqa: E402
from tests.multimodal.agent_harness import run_call, script_wav  # noqa: E402
from tests.pipeline.audio_checks import read_stereo  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vad_false_alarms  # noqa: E402


class Weather(llm.FunctionContext):
    @llm.ai_callable()
    async def get_weather(self, location: Annotated[str, llm.TypeInfo(description="city")]
                          ) -> dict[str, Any]:
        """Called when the user asks about the weather."""
        return {"location": location, "temperature": 21, "conditions": "sunny"}


def one_run(tmp: Path, local_vad: bool) -> dict[str, float]:
    # The answer starts ~2.3 s after the question ends (0.5 s silence window, tool
    # round trip): the barge-in lands 1.2 s into it.
    script_wav(tmp / "in.wav", [(0.5, "weather_paris"), (5.0, "your_name")], total_s=9.0)

    async def make(ctx: JobContext) -> MultimodalAgent:
        return MultimodalAgent(model=offline.RealtimeModel(), fnc_ctx=Weather(),
                               vad=VAD.load() if local_vad else None)

    rec = run_call(tmp / "in.wav", tmp / "out", make)
    onset_ms = 5000.0
    rate, _user, agent = read_stereo(tmp / "out" / "conversation.wav")
    i0 = int(onset_ms / 1000 * rate)
    tail = np.nonzero(np.abs(agent[i0: i0 + rate]) > 0)[0]
    silent_after = float(tail[-1] + 1) * 1000 / rate if tail.size else 0.0
    stops = [r for r in rec.log("agent_stopped_speaking") if r["interrupted"]]
    truncs = {r["item_id"]: r["audio_end_ms"] for r in rec.log("agent_item_truncated")}
    err = float("nan")
    if stops and stops[0]["item_id"] in truncs:
        err = truncs[stops[0]["item_id"]] - stops[0]["played_ms"]
    return {"silent_after_ms": silent_after, "truncate_minus_played_ms": err,
            "interrupted": float(bool(stops))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    results: dict[str, list[dict[str, float]]] = {"local_vad": [], "server_vad": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for mode in results:
                run_dir = Path(tmp) / f"{mode}-{i}"
                run_dir.mkdir()
                results[mode].append(one_run(run_dir, mode == "local_vad"))
    summary: dict[str, Any] = {}
    print(f"{'mode':<12}{'silent after (ms) median':>26}{'max':>8}{'|trunc-played| max':>20}")
    for mode, runs in results.items():
        silent = [r["silent_after_ms"] for r in runs]
        errs = [abs(r["truncate_minus_played_ms"]) for r in runs]
        summary[mode] = {"runs": runs, "silent_after_ms_median": statistics.median(silent),
                         "silent_after_ms_max": max(silent), "truncate_error_ms_max": max(errs)}
        print(f"{mode:<12}{statistics.median(silent):>26.1f}{max(silent):>8.1f}"
              f"{max(errs):>20.1f}")
    false_alarms = vad_false_alarms.compare()
    summary["local_vad_false_barge_ins"] = false_alarms
    text = json.dumps(summary, indent=2)
    print(text)
    vad_false_alarms.print_table(false_alarms)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
