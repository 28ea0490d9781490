"""Stage processes raise their own scheduling priority (``VOXPIPE_STAGE_NICE`` steps
above their parent), or say they could not and run as before. Each case runs in a
child process: the test runner's own priority is never touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import os; from pipeline.process import raise_priority; "
         "got = raise_priority(); print(got, os.getpriority(os.PRIO_PROCESS, 0))")


def _probe(step: str | None) -> tuple[str, int, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("VOXPIPE_STAGE_NICE", None)
    if step is not None:
        env["VOXPIPE_STAGE_NICE"] = step
    # The child starts 5 steps below us; whether it may raise itself depends on the host
    # (root, CAP_SYS_NICE, RLIMIT_NICE): both outcomes are checked.
    proc = subprocess.run(["nice", "-n", "5", sys.executable, "-c", PROBE], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    got, now = proc.stdout.split()
    return got, int(now), proc.stderr


@pytest.mark.parametrize(("step", "delta"), [("-3", -3), (None, -10), ("-40", -40)])
def test_a_stage_runs_the_given_steps_above_its_parent(step: str | None, delta: int) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0) + 5  # the child's niceness before it asks
    got, now, _ = _probe(step)
    if got == "None":  # not allowed here: it runs at its parent's priority
        assert now == base
    else:
        assert int(got) == now == max(-20, base + delta)


def test_zero_keeps_the_parents_priority_and_junk_falls_back_with_a_warning() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0) + 5
    assert _probe("0")[:2] == (str(base), base)
    got, now, err = _probe("fast")
    assert "VOXPIPE_STAGE_NICE must be an integer" in err
    assert got == "None" or int(got) == now == max(-20, base - 10)
