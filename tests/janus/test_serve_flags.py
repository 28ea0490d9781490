"""``--janus URL --room ID`` on ``voxpipe serve``: both or neither, and an http(s) URL;
anything else is a usage error (exit 2, one line) before any stage starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.serve.options import ServeOptions, ServeUsageError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("url", "room", "message"), [
    ("http://127.0.0.1:8088/janus", None, "--janus and --room go together"),
    (None, 1234, "--janus and --room go together"),
    ("ws://127.0.0.1:8188", 1234, "is not an http(s) URL"),
])
def test_bad_janus_flags_are_refused(url: str | None, room: int | None, message: str) -> None:
    with pytest.raises(ServeUsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ServeOptions(janus_url=url, janus_room=room).check()


def test_good_janus_flags_pass() -> None:
    ServeOptions(janus_url="http://127.0.0.1:8088/janus", janus_room=1234).check()


def test_the_cli_exits_2_on_a_room_without_janus() -> None:
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "serve", "--room", "7"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "voxpipe: error: --janus and --room go together")
