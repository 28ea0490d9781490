"""benchmarks/dsp.py runs end to end and its JSON carries sane numbers (no timing goals:
costs are only checked to be measured, positive and finite)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COST_FIELDS = ("us_per_frame_median", "us_per_frame_p99", "us_per_frame_mean")


def test_dsp_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "dsp.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "dsp.py"), "--seconds", "1",
         "--peers", "voxpipe,plain", "--gil-reps", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=110, cwd=ROOT, check=False)
    print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
    assert proc.returncode == 0
    doc = json.loads(out.read_text())
    assert doc["config"]["seconds"] == 1 and doc["config"]["block_frames"] == 100
    assert set(doc["chains"]) == {"voxpipe", "plain"}
    for name, chain in doc["chains"].items():
        assert "skipped" not in chain, (name, chain.get("skipped"))
        assert chain["blocks"] == 1
        for field in COST_FIELDS:
            assert chain[field] > 0 and math.isfinite(chain[field]), (name, field, chain[field])
        assert chain["us_per_frame_p99"] >= chain["us_per_frame_median"]
        assert chain["ratio_to_voxpipe"] > 0
        # 2 s fed (1 s warm-up + 1 s timed): 19 or 20 chunks of 100 ms, whatever is held back.
        assert chain["chunks"] in (19, 20), (name, chain["chunks"])
        assert 0 <= chain["held_back_ms"] <= chain["held_back_max_ms"] < 100
        assert abs(chain["impulse_shift_ms"]) < 50
        assert chain["speech_starts"] >= 1  # the example's turn starts at 0.5 s
    assert doc["chains"]["voxpipe"]["ratio_to_voxpipe"] == 1.0
    gil = doc["gil"]
    assert gil["two_thread_ratio"] > 0 and gil["control_ratio"] > 0 and gil["required"] == 1.7
    assert gil["passed"] == (gil["two_thread_ratio"] >= 1.7)
    assert gil["verdict"].split(":")[0] in ("pass", "fail", "inconclusive")
    assert set(gil["parts"]) == {"resampler_10ms", "resampler_1s", "vad_10ms"}
    assert all(r > 0 for r in gil["parts"].values())
    # The JSON is printed after the table too.
    assert json.loads(proc.stdout[proc.stdout.index("\n{") + 1:]) == doc
