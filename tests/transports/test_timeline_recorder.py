"""TimelineRecorder: positional writes, restart after SIGKILL, finalize to a stereo WAV."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline.record.timeline_recorder import TimelineRecorder

ROOT = Path(__file__).resolve().parents[2]


def _pcm(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype="<i2").tobytes()


def _ramp(start: int, n: int) -> np.ndarray:
    return (np.arange(start, start + n) % 30000).astype(np.int16)


def _read_conversation(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getcomptype()) == (2, 2, "NONE")
        frames = w.getnframes()
        data = np.frombuffer(w.readframes(frames), dtype="<i2").reshape(-1, 2)
    assert len(data) == frames
    return data


def test_out_of_order_overlapping_writes_and_gaps(tmp_path: Path) -> None:
    rec = TimelineRecorder(tmp_path / "s", sample_rate=100)
    user = np.zeros(450, dtype=np.int16)
    agent = np.zeros(450, dtype=np.int16)

    rec.write_user(300, _pcm(_ramp(1, 150)))  # later piece first
    user[300:450] = _ramp(1, 150)
    rec.write_user(0, _pcm(_ramp(1000, 120)))
    user[0:120] = _ramp(1000, 120)
    rec.write_user(100, _pcm(np.full(250, -5)))  # overlaps both: overwrites
    user[100:350] = -5
    rec.write_agent(200, _pcm(_ramp(2000, 50)))
    agent[200:250] = _ramp(2000, 50)
    rec.write_agent(210, _pcm(np.full(10, 9)))
    agent[210:220] = 9
    rec.write_agent(0, b"")
    assert (rec.user_end, rec.agent_end) == (450, 250)

    out = tmp_path / "conversation.wav"
    assert rec.finalize(out) == 450
    data = _read_conversation(out)
    np.testing.assert_array_equal(data[:, 0], user)
    np.testing.assert_array_equal(data[:, 1], agent)
    assert not (tmp_path / "s" / "user.pcm").exists()
    assert not (tmp_path / "s" / "agent.pcm").exists()
    assert not (tmp_path / "conversation.wav.tmp").exists()
    with pytest.raises(ValueError, match="closed"):
        rec.write_user(0, b"\0\0")


@pytest.mark.parametrize("length", [0, 1, 99, 100, 101, 1000])
def test_finalize_length_is_longer_track_across_block_edges(tmp_path: Path, length: int) -> None:
    rec = TimelineRecorder(tmp_path, sample_rate=100)  # 100-sample blocks
    agent = _ramp(7, length)
    rec.write_agent(0, _pcm(agent))
    rec.write_user(0, _pcm(_ramp(0, length // 2)))
    out = tmp_path / "c.wav"
    assert rec.finalize(out) == length
    data = _read_conversation(out)
    assert data.shape == (length, 2)
    np.testing.assert_array_equal(data[:, 1], agent)
    np.testing.assert_array_equal(data[: length // 2, 0], _ramp(0, length // 2))
    assert not data[length // 2 :, 0].any()


def test_close_keeps_raw_tracks_and_new_recorder_continues(tmp_path: Path) -> None:
    rec = TimelineRecorder(tmp_path)
    rec.write_user(0, _pcm(_ramp(0, 480)))
    rec.write_agent(240, _pcm(_ramp(5, 480)))
    rec.close()
    rec.close()
    assert (tmp_path / "user.pcm").stat().st_size == 960
    assert (tmp_path / "agent.pcm").stat().st_size == 1440

    again = TimelineRecorder(tmp_path)
    assert (again.user_end, again.agent_end) == (480, 720)
    again.write_user(1000, _pcm(_ramp(9, 10)))
    assert again.finalize(tmp_path / "c.wav") == 1010
    data = _read_conversation(tmp_path / "c.wav")
    np.testing.assert_array_equal(data[:480, 0], _ramp(0, 480))
    np.testing.assert_array_equal(data[1000:, 0], _ramp(9, 10))
    assert not data[480:1000, 0].any()
    np.testing.assert_array_equal(data[240:720, 1], _ramp(5, 480))


def test_survives_sigkill_of_the_writing_process(tmp_path: Path) -> None:
    session = tmp_path / "session"
    child = textwrap.dedent(
        f"""
        import sys, time
        import numpy as np
        from pathlib import Path
        from pipeline.record.timeline_recorder import TimelineRecorder
        rec = TimelineRecorder(Path({str(session)!r}), sample_rate=16000)
        for i in range(20):
            block = (np.arange(160) + i).astype('<i2').tobytes()
            rec.write_user(i * 160, block)
            rec.write_agent(i * 160 + 80, block)
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", child], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    rec = TimelineRecorder(session, sample_rate=16000)
    assert (rec.user_end, rec.agent_end) == (3200, 3280)
    rec.write_agent(3280, _pcm(np.full(20, 42)))
    assert rec.finalize(tmp_path / "conversation.wav") == 3300
    data = _read_conversation(tmp_path / "conversation.wav")
    expected = np.concatenate([np.arange(160) + i for i in range(20)]).astype(np.int16)
    np.testing.assert_array_equal(data[:3200, 0], expected)
    np.testing.assert_array_equal(data[80:3280, 1], expected)
    assert not data[:80, 1].any() and (data[3280:, 1] == 42).all()


def test_rejects_bad_writes(tmp_path: Path) -> None:
    with TimelineRecorder(tmp_path) as rec:
        with pytest.raises(ValueError, match="odd PCM length"):
            rec.write_user(0, b"\x00\x00\x00")
        with pytest.raises(ValueError, match="negative position"):
            rec.write_agent(-1, b"\x00\x00")
        assert (rec.user_end, rec.agent_end) == (0, 0)
