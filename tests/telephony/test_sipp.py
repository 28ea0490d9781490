"""SIPp places calls on a real ``voxpipe serve --sip`` (echo engine): OPTIONS, CANCEL
before the answer, hold and unhold by re-INVITE, an offer with no G.711 (488),
malformed SDP (400), a full server (486) and a caller outside ``--sip-allow`` (403)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.telephony.conftest import SipServer
from tests.telephony.sipp import run_scenario

G711_LINES = "c=IN IP4 127.0.0.1;m=audio 6000 RTP/AVP 0;a=rtpmap:0 PCMU/8000"


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


def test_cancel_before_the_answer_gets_487_and_ends_the_call(
        sipp: Path, sip_server: SipServer, tmp_path: Path) -> None:
    before = sip_server.process.metrics()["voxpipe_calls_total"]
    run = run_scenario(sipp, "cancel", sip_server.address, tmp_path)
    assert run.returncode == 0, run.output
    assert [s for s in run.statuses() if s >= 180] == [180, 200, 487]
    assert sip_server.process.metrics()["voxpipe_calls_total"] == before + 1
    assert settled(sip_server, "voxpipe_calls_active", 0.0) == 0.0


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
