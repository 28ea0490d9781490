"""SIPp places calls on a real ``voxpipe serve --sip`` (echo engine): OPTIONS, CANCEL
before the answer, hold and unhold by re-INVITE, an offer with no G.711 (488),
malformed SDP (400), a full server (486), no headroom (503 with Retry-After), a caller
outside ``--sip-allow`` (403), and the caller hanging up during a reply."""

from __future__ import annotations

import json
import re
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from scipy.signal import resample_poly

from native.g711 import ulaw_encode
from pipeline.record.event_log import read_event_log
from tests.telephony.conftest import SipServer, start_sip_server
from tests.telephony.sipp import run_scenario
from tests.transports.web.signal_match import best_correlation

ROOT = Path(__file__).resolve().parents[2]
THREE_TURNS = ROOT / "examples" / "audio" / "three_turns.wav"
RINGING_AGENT = Path(__file__).resolve().parent / "ringing_agent.py"
SECOND_TURN = json.loads((ROOT / "examples" / "audio" / "three_turns.json")
                         .read_text())["turns"][1]

G711_LINES = "c=IN IP4 127.0.0.1;m=audio 6000 RTP/AVP 0;a=rtpmap:0 PCMU/8000"


def caller_turn(out: Path, repeats: int = 1) -> npt.NDArray[np.float64]:
    """The second turn (2.1 s), said ``repeats`` times without a pause, at 8 kHz as raw
    mu-law for SIPp: 0.3 s of silence, the turn, 4 s of silence; its samples as floats."""
    with wave.open(str(THREE_TURNS)) as w:
        rate = w.getframerate()
        w.setpos(int(SECOND_TURN["onset_s"] * rate))
        pcm = np.frombuffer(w.readframes(int(SECOND_TURN["duration_s"] * rate)), dtype="<i2")
    turn = np.tile(resample_poly(pcm.astype(np.float64) / 32768.0, 8000, rate), repeats)
    padded = np.concatenate([np.zeros(2400), turn, np.zeros(32000)])
    out.write_bytes(ulaw_encode((np.clip(padded, -1, 1) * 32767).astype("<i2").tobytes()))
    return turn


def settled(server: SipServer, name: str, want: float, timeout_s: float = 30.0) -> float:
    """The metric once it reads ``want`` (or its last value when it never does)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = server.process.metrics().get(name, 0.0)
        if value == want or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_options_is_answered_with_what_the_server_speaks(
        sipp: Path, sip_server: SipServer, tmp_path: Path) -> None:
    run = run_scenario(sipp, "options", sip_server.address, tmp_path)
    assert run.returncode == 0, run.output
    assert run.statuses() == [200]


@pytest.fixture(scope="module")
def ringing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipServer]:
    """A server whose agent lets each call ring 3 s before it answers: a CANCEL sent on
    the 180 always comes before the 200, however fast or busy the host."""
    server = start_sip_server(tmp_path_factory.mktemp("ringing"), "--agent",
                              str(RINGING_AGENT))
    yield server
    server.process.stop()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_cancel_before_the_answer_gets_487_and_ends_the_call(
        sipp: Path, ringing_server: SipServer, tmp_path: Path, transport: str) -> None:
    before = ringing_server.process.metrics()["voxpipe_calls_total"]
    run = run_scenario(sipp, "cancel", ringing_server.address, tmp_path,
                       extra=("-t", "t1") if transport == "tcp" else ())
    assert run.returncode == 0, run.output  # the scenario wants 180, 200 (CANCEL), 487
    if transport == "udp":
        assert [s for s in run.statuses() if s >= 180] == [180, 200, 487]
    else:
        assert all("SIP/2.0/TCP" in m for m in run.received()), run.received()
    assert ringing_server.process.metrics()["voxpipe_calls_total"] == before + 1
    assert settled(ringing_server, "voxpipe_calls_active", 0.0) == 0.0


def test_hold_and_unhold_by_reinvite_keep_the_media_where_it_was(
        sipp: Path, sip_server: SipServer, tmp_path: Path) -> None:
    run = run_scenario(sipp, "reinvite", sip_server.address, tmp_path)
    assert run.returncode == 0, run.output
    answers = [m for m in run.responses(200) if "m=audio" in m]
    assert len(answers) == 3, run.messages
    ports = {re.search(r"m=audio (\d+) RTP/AVP 8 101", a).group(1)  # type: ignore[union-attr]
             for a in answers}
    assert len(ports) == 1  # PCMA (offered first) with telephone-event, one port throughout
    directions = [re.findall(r"a=(sendrecv|sendonly|recvonly|inactive)", a) for a in answers]
    assert directions == [["sendrecv"], ["recvonly"], ["sendrecv"]]
    versions = [re.search(r"o=voxpipe \d+ (\d+) ", a).group(1)  # type: ignore[union-attr]
                for a in answers]
    assert versions == ["1", "2", "3"]
    assert settled(sip_server, "voxpipe_calls_active", 0.0) == 0.0


@pytest.mark.parametrize(("lines", "status"), [
    ("c=IN IP4 127.0.0.1;m=audio 6000 RTP/AVP 18 9;a=rtpmap:18 G729/8000", 488),
    ("c=IN IP4 127.0.0.1;m=video 6000 RTP/AVP 96;a=rtpmap:96 VP8/90000", 488),
    ("c=IN IP4 nowhere;m=audio 6000 RTP/AVP 0;a=rtpmap:0 PCMU/8000", 400),
    ("c=IN IP4 127.0.0.1;m=audio sixty RTP/AVP 0;a=rtpmap:0 PCMU/8000", 400),
    ("c=IN IP4 127.0.0.1;m=audio 6000 RTP/AVP 0;a=rtpmap:x PCMU", 400),
], ids=["g729-g722", "video-only", "bad-address", "bad-port", "bad-rtpmap"])
def test_an_offer_that_cannot_be_answered_is_refused_before_any_call(
        sipp: Path, sip_server: SipServer, tmp_path: Path, lines: str, status: int) -> None:
    before = sip_server.process.metrics()
    run = run_scenario(sipp, "refused", sip_server.address, tmp_path, inject=[lines])
    assert run.returncode == 0, run.output
    assert run.statuses()[-1] == status
    after = sip_server.process.metrics()
    assert after["voxpipe_calls_total"] == before["voxpipe_calls_total"]
    malformed = "voxpipe_sip_rejected_total{reason=malformed}"
    assert after[malformed] - before[malformed] == (status == 400)


def test_a_full_server_is_busy_here(sipp: Path, full_server: SipServer, tmp_path: Path) -> None:
    run = run_scenario(sipp, "refused", full_server.address, tmp_path, inject=[G711_LINES],
                       local_ip="127.0.0.2")
    assert run.returncode == 0, run.output
    assert run.statuses()[-1] == 486
    assert full_server.process.metrics()["voxpipe_calls_refused_total{reason=full}"] == 1


def test_a_caller_outside_sip_allow_is_forbidden(
        sipp: Path, full_server: SipServer, tmp_path: Path) -> None:
    run = run_scenario(sipp, "options", full_server.address, tmp_path)
    assert run.returncode != 0  # the scenario wanted 200
    assert run.statuses() == [403]
    assert full_server.process.metrics()["voxpipe_sip_rejected_total{reason=not_allowed}"] >= 1


def test_the_caller_hanging_up_during_a_reply_ends_the_session_with_its_recording(
        sipp: Path, sip_server: SipServer, tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    # A 6.3 s turn, so its 6.3 s echo is surely under way, and surely not over, when the
    # scenario hangs up 3.5 s after the turn (the reply starts ~0.6 s after it when the
    # host is idle, later on a busy one).
    turn = caller_turn(tmp_path / "caller.ulaw", repeats=3)
    before = {p.name for p in sip_server.record_dir.iterdir()}
    run = run_scenario(sipp, "bye_during_reply", sip_server.address, tmp_path)
    assert run.returncode == 0, run.output
    assert settled(sip_server, "voxpipe_calls_active", 0.0) == 0.0
    [record] = [p for p in sip_server.record_dir.iterdir() if p.name not in before]
    events = read_event_log(record / "events.jsonl")
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "session_closed"
    assert "agent_started_speaking" in kinds  # the reply had begun ...
    finished = [e for e in events
                if e["type"] == "agent_stopped_speaking" and not e.get("interrupted")]
    assert finished == [], finished  # ... and had not ended when the BYE came
    with wave.open(str(record / "conversation.wav")) as w:
        assert w.getnchannels() == 2
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
        user = resample_poly(pcm[:, 0].astype(np.float64) / 32768.0, 8000, w.getframerate())
    assert best_correlation(user, turn) >= 0.8  # the caller's turn, on the record


def test_no_headroom_is_503_with_retry_after(sipp: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Admission control refusing every session: the runtime's own limit, not --max-sessions.
    monkeypatch.setenv("VOXPIPE_ADMISSION", "max_sessions=0")
    server = start_sip_server(tmp_path / "calls")
    try:
        run = run_scenario(sipp, "refused", server.address, tmp_path / "sipp",
                           inject=[G711_LINES])
        refused = server.process.metrics()["voxpipe_calls_refused_total{reason=max_sessions}"]
    finally:
        server.process.stop()
    assert run.returncode == 0, run.output
    assert run.statuses()[-1] == 503
    [final] = run.responses(503)
    assert re.search(r"^Retry-After: \d+$", final, re.M), final
    assert refused == 1


@pytest.mark.parametrize("scenario", ["options", "reinvite"])  # cancel: with the UDP one
def test_sip_over_tcp(sipp: Path, sip_server: SipServer, tmp_path: Path,
                      scenario: str) -> None:
    assert any(line.startswith("voxpipe: SIP on tcp:") for line in sip_server.process.lines)
    run = run_scenario(sipp, scenario, sip_server.address, tmp_path, extra=("-t", "t1"))
    assert run.returncode == 0, run.output
    assert all("SIP/2.0/TCP" in m for m in run.received()), run.received()
