"""``--workers`` on ``voxpipe run`` and ``serve``: copies of the call sharded over two
dsp and two model workers, each echoed; a bad value is one line and exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.pipeline.test_cli import EXAMPLE, assert_one_line_error, voxpipe
from tests.pipeline.test_cli_sessions import _recorded
from tests.pipeline.test_end_to_end import check_turns


def test_copies_on_two_workers_each_are_echoed(model_url: str, three_turns: Any,
                                               tmp_path: Path) -> None:
    wav, labels = three_turns
    res = voxpipe("run", "--sessions", "2", "--workers", "dsp=2,model=2", "--input", str(wav),
                  "--out", str(tmp_path), "--base-url", model_url, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    # The run names its stage processes: each sharded stage's two workers.
    pids = next(ln for ln in (res.stdout + res.stderr).splitlines() if "pids {" in ln)
    assert all(f"'{w}'" in pids for w in ("dsp.0", "dsp.1", "model.0", "model.1")), pids
    for name in ("call-1", "call-2"):
        assert len(check_turns(_recorded(tmp_path / name), labels, wav)) == 3, name
    assert "all: 2 done, 0 failed, 0 refused; 6 replies, 0 turns unanswered" in res.stdout


def test_bad_workers_are_one_line_and_exit_2(tmp_path: Path) -> None:
    for command in (("run", "--input", str(EXAMPLE), "--out", str(tmp_path)), ("serve",)):
        res = voxpipe(*command, "--workers", "dsp=2,mixer=1")
        assert_one_line_error(res, 2, "--workers: unknown stage 'mixer'")
    res = voxpipe("run", "--input", str(EXAMPLE), "--out", str(tmp_path),
                  env={"VOXPIPE_WORKERS": "dsp=lots"})
    assert_one_line_error(res, 2, "VOXPIPE_WORKERS: dsp needs a number, got 'lots'")
