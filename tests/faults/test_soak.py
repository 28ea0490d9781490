"""Load soak (excluded from the default run: ``pytest -m soak``).

8 concurrent real-time sessions, restarted as they finish, for VOXPIPE_SOAK_S
seconds (default 600): no sequence gaps, hop latency p99 <= 30 ms and max <=
100 ms, stage RSS growth <= 5 % after the first minute, fd counts stable.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from ipc.stats import percentiles
from pipeline.supervisor.runtime import Runtime
from pipeline.supervisor.session import SessionSpec
from pipeline.transports.file.spec import file_transport

SESSIONS = 8


def _footprint(pids: dict[str, int]) -> dict[str, tuple[int, int]]:
    out = {}
    for name, pid in pids.items():
        p = psutil.Process(pid)
        out[name] = (p.memory_info().rss, p.num_fds())
    return out


async def _soak(model_url: str, wav: Path, out: Path, duration: float) -> dict[str, Any]:
    async with Runtime() as rt:
        t0 = time.monotonic()
        n = 0
        live: set[asyncio.Future[Any]] = set()
        warm: dict[str, tuple[int, int]] | None = None
        errors = []
        while time.monotonic() - t0 < duration or live:
            while len(live) < SESSIONS and time.monotonic() - t0 < duration:
                s = rt.start_session(SessionSpec(file_transport(wav), out_dir=out / f"s{n % 16}",
                                                 model_url=model_url, session_id=f"soak{n}"))
                live.add(s.closed)
                n += 1
                await asyncio.sleep(0.3)
            done, live = await asyncio.wait(live, timeout=1.0,
                                             return_when=asyncio.FIRST_COMPLETED)
            errors += [f.result().error for f in done if f.result().error]
            if warm is None and time.monotonic() - t0 > 60:
                warm = _footprint(rt.pids())
        stats = await rt.stage_stats()
        end = _footprint(rt.pids())
        restarts = sum(st.restarts for st in rt.arbiter.stages.values()) if rt.arbiter else -1
    return {"stats": stats, "warm": warm, "end": end, "errors": errors, "sessions": n,
            "restarts": restarts}


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_soak(model_url: str, three_turns: Any, tmp_path: Path) -> None:
    wav, _ = three_turns
    duration = float(os.environ.get("VOXPIPE_SOAK_S", "600"))
    r = asyncio.run(_soak(model_url, wav, tmp_path, duration))
    print({k: v for k, v in r.items() if k != "stats"})
    assert r["errors"] == [] and r["restarts"] == 0
    stats = r["stats"]
    assert stats["dsp"].counters.get("seq_gaps", 0) == 0
    for stage, hop in (("dsp", "capture_to_dsp"), ("model", "dsp_to_model_sent"),
                       ("playout", "dsp_to_playout"), ("playout", "model_rx_to_playout_rx")):
        p = percentiles(stats[stage].latency_us[hop])
        print(hop, p)
        assert p["p99_ms"] <= 30 and p["max_ms"] <= 100, (hop, p)
    if r["warm"] is not None:
        for name, (rss, fds) in r["end"].items():
            w_rss, w_fds = r["warm"][name]
            assert rss <= w_rss * 1.05 + 2**20, (name, w_rss, rss)
            assert fds <= w_fds + 4, (name, w_fds, fds)
