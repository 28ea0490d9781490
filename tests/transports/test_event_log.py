"""EventLog: whole lines, reopen appends, torn tails ignored, SIGKILL mid-stream."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import MappingProxyType

from pipeline.record.event_log import EventLog, read_event_log

ROOT = Path(__file__).resolve().parents[2]


def test_each_append_is_one_complete_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    records = [{"type": "frame", "seq": i, "text": "é" * (i % 5), "t": i / 3} for i in range(100)]
    with EventLog(path) as log:
        for r in records:
            log.append(r)
        log.append(MappingProxyType({"type": "mapping"}))
    raw = path.read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 101
    assert [json.loads(line) for line in raw.splitlines()[:-1]] == records
    assert read_event_log(path) == [*records, {"type": "mapping"}]


def test_reopen_appends(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventLog(path) as log:
        log.append({"seq": 0})
    with EventLog(path) as log:
        log.append({"seq": 1})
    assert read_event_log(path) == [{"seq": 0}, {"seq": 1}]


def test_torn_last_line_is_ignored_and_reopen_closes_it_off(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventLog(path) as log:
        log.append({"seq": 0})
        log.append({"seq": 1})
    with open(path, "ab") as f:
        f.write(b'{"seq": 2, "text": "cut he')
    assert read_event_log(path) == [{"seq": 0}, {"seq": 1}]

    with EventLog(path) as log:
        log.append({"seq": 3})
    assert read_event_log(path) == [{"seq": 0}, {"seq": 1}, {"seq": 3}]
    assert path.read_bytes().endswith(b'cut he\n{"seq":3}\n')


def test_empty_and_closed(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    assert read_event_log(path) == []
    log.close()
    log.close()
    try:
        log.append({"x": 1})
    except ValueError as exc:
        assert "closed" in str(exc)
    else:
        raise AssertionError("append after close did not raise")


def test_sigkill_mid_stream_leaves_only_whole_records(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    child = textwrap.dedent(
        f"""
        from pipeline.record.event_log import EventLog
        log = EventLog({str(path)!r})
        pad = "x" * 3000
        seq = 0
        while True:
            log.append({{"seq": seq, "pad": pad}})
            seq += 1
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child], cwd=ROOT)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if path.exists() and path.stat().st_size > 2_000_000:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    records = read_event_log(path)
    assert len(records) > 500
    assert [r["seq"] for r in records] == list(range(len(records)))
    assert all(len(r["pad"]) == 3000 for r in records)
