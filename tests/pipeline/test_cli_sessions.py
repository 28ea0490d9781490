"""``voxpipe run --sessions N``: N copies of the call on one runtime, each recorded in its
own ``DIR/<session-id>/`` and echoed there; the summary counts them; a copy (or a single
run) the admission limits refuse is counted, or one error line and exit 1."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.record.event_log import read_event_log
from pipeline.supervisor.session import SessionSummary
from tests.pipeline.test_cli import EXAMPLE, assert_one_line_error, voxpipe
from tests.pipeline.test_end_to_end import check_turns


def _recorded(out: Path) -> SessionSummary:
    return SessionSummary(out.name, out, [], None, out / "conversation.wav",
                          out / "events.jsonl")


def test_three_copies_each_echoed_in_its_own_folder(model_url: str, three_turns: Any,
                                                    tmp_path: Path) -> None:
    wav, labels = three_turns
    # Admission on with its defaults, which never refuse three sessions on an idle host.
    res = voxpipe("run", "--sessions", "3", "--input", str(wav), "--out", str(tmp_path),
                  "--base-url", model_url, env={"VOXPIPE_ADMISSION": "on"}, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    names = ["call-1", "call-2", "call-3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    glitches = 0
    for name in names:
        assert len(check_turns(_recorded(tmp_path / name), labels, wav)) == 3, name
        line = next(ln for ln in res.stdout.splitlines() if ln.strip().startswith(name))
        found = re.search(r"turns 3\s+replies 3\s.*glitch frames (\d+)\s", line)
        assert found, line
        # (A host too busy for real time glitches, and says so: the count is the record's.)
        logged = read_event_log(tmp_path / name / "events.jsonl")
        frames = sum(e["frames"] for e in logged if e["type"] == "playout_glitch")
        assert int(found.group(1)) == frames, line
        glitches += frames
    assert "all: 3 done, 0 failed, 0 refused; 9 replies, 0 turns unanswered" in res.stdout
    assert f"glitch frames {glitches}\n" in res.stdout
    assert "voxpipe: sessions: running 0, done 3, failed 0, refused 0" in res.stdout


def test_copies_past_the_cap_are_refused_and_counted(model_url: str, tmp_path: Path) -> None:
    res = voxpipe("run", "--sessions", "3", "--fast", "--input", str(EXAMPLE), "--out",
                  str(tmp_path), "--base-url", model_url,
                  env={"VOXPIPE_ADMISSION": "max_sessions=2"}, timeout=120)
    assert res.returncode == 1, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["call-1", "call-2"]
    assert re.search(r"call-3  refused: no headroom for a new session: 2 sessions live, "
                     r"the cap is 2", res.stdout), res.stdout
    assert "all: 2 done, 0 failed, 1 refused" in res.stdout


def test_a_refused_run_is_one_line_and_exit_1(model_url: str, tmp_path: Path) -> None:
    res = voxpipe("run", "--input", str(EXAMPLE), "--out", str(tmp_path), "--base-url",
                  model_url, env={"VOXPIPE_ADMISSION": "max_sessions=0"})
    assert_one_line_error(res, 1, "no headroom for a new session: 0 sessions live, "
                          "the cap is 0")
    assert list(tmp_path.iterdir()) == []


def test_admission_off_and_bad_limits(model_url: str, tmp_path: Path) -> None:
    bad = voxpipe("run", "--input", str(EXAMPLE), "--out", str(tmp_path), "--base-url",
                  model_url, env={"VOXPIPE_ADMISSION": "max_sessions=x"})
    assert_one_line_error(bad, 2, "VOXPIPE_ADMISSION: max_sessions needs a number")
    off = voxpipe("run", "--admission", "off", "--fast", "--input", str(EXAMPLE), "--out",
                  str(tmp_path), "--base-url", model_url,
                  env={"VOXPIPE_ADMISSION": "max_sessions=0"}, timeout=120)
    assert off.returncode == 0, off.stderr
    assert (tmp_path / "conversation.wav").exists()
