"""Other inputs through the real processes: 48 kHz stereo float, and --fast pacing."""

from __future__ import annotations

import asyncio
import json
import math
import wave
from pathlib import Path
from typing import Any, Literal

from ipc.schema import InputEnded
from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from pipeline.supervisor.session import SessionSpec, SessionSummary
from pipeline.transports.file.spec import file_transport
from tests.conftest import EXAMPLES
from tests.pipeline.audio_checks import max_ncc, read_mono, read_stereo
from tests.pipeline.test_end_to_end import FAST_HEARTBEAT, check_turns


async def _run(model_url: str, wav: Path, out: Path, realtime: bool = True,
               protocol: Literal["ga", "beta"] = "ga") -> tuple[SessionSummary, float]:
    """The session's summary, and the seconds capture took to read all of the input."""
    async with Runtime(RuntimeOptions(arbiter=FAST_HEARTBEAT)) as rt:
        session = rt.start_session(SessionSpec(file_transport(wav, realtime=realtime), out_dir=out,
                                               model_url=model_url, protocol=protocol))
        ended: list[int] = []
        session.on(lambda ev: ended.append(ev.t_ns) if isinstance(ev.event, InputEnded) else None)
        summary = await asyncio.wait_for(session.closed, 60)
        return summary, (ended[0] - session.config.t0_ns) / 1e9 if ended else math.inf


def test_48k_stereo_float_input_is_downmixed_resampled_and_echoed(model_url: str,
                                                                   tmp_path: Path) -> None:
    wav = EXAMPLES / "one_turn_48k_stereo.wav"
    labels = json.loads((EXAMPLES / "one_turn_48k_stereo.json").read_text())
    summary, _ = asyncio.run(_run(model_url, wav, tmp_path, realtime=True))
    assert summary.error is None
    assert len(check_turns(summary, labels, wav)) == 1


def test_fast_input_is_fed_faster_than_real_time(model_url: str, three_turns: Any,
                                                 tmp_path: Path) -> None:
    wav, _ = three_turns
    summary, fed_s = asyncio.run(_run(model_url, wav, tmp_path, realtime=False))
    assert summary.error is None
    with wave.open(str(wav)) as w:
        duration = w.getnframes() / w.getframerate()
    # The input reaches the model far faster than real time (real time itself is the bound,
    # so load cannot fail it); replies still play in real time, and turns arriving back to
    # back cut the earlier replies short.
    print(f"input of {duration:.1f} s read in {fed_s:.2f} s")
    assert fed_s < duration
    rate, user, _agent = read_stereo(summary.wav)  # type: ignore[arg-type]
    ref = read_mono(wav, rate)
    n = min(len(ref), len(user))
    assert n >= len(ref) - rate // 100
    assert max_ncc(user[:n], ref[:n], 48) > 0.97


def test_beta_protocol_conversation(model_url: str, tmp_path: Path) -> None:
    """The beta event names (response.audio.delta, ...) carry the same conversation."""
    wav = EXAMPLES / "one_turn_48k_stereo.wav"
    labels = json.loads((EXAMPLES / "one_turn_48k_stereo.json").read_text())
    summary, _ = asyncio.run(_run(model_url, wav, tmp_path, protocol="beta"))
    assert summary.error is None
    assert len(check_turns(summary, labels, wav)) == 1
