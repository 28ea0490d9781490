"""``voxpipe serve`` over HTTP without a peer: bad input is refused with the right status
and a message while the server keeps serving; health, metrics, the page; admission,
the token, and what a non-loopback address needs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.harness import ROOT, ServeProcess

STAGES = {"capture", "dsp", "model", "playout", "edge"}
# Parses as a session description, but offers no media: the edge cannot answer it.
NO_MEDIA_SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    record = tmp_path_factory.mktemp("record")
    with ServeProcess("--record", str(record)) as s:
        yield s


def assert_healthy(server: ServeProcess) -> None:
    status, health = server.request("GET", "/healthz")
    assert status == 200, health
    assert health["ok"] is True
    assert health["stages"] == {name: True for name in STAGES}


def test_healthz_names_every_stage_alive(server: ServeProcess) -> None:
    assert_healthy(server)
    assert server.request("GET", "/healthz")[1]["sessions"] == 0


@pytest.mark.parametrize("body", [
    b"{not json",
    b"\xff\xfe",
    b"[1, 2]",
    {"type": "offer"},
    {"sdp": 42, "type": "offer"},
    {"sdp": "hello", "type": "offer"},
    {"sdp": NO_MEDIA_SDP, "type": "answer"},
    {"sdp": NO_MEDIA_SDP, "type": "offer", "pc_id": 7},
], ids=["truncated", "not-utf8", "array", "no-sdp", "sdp-number", "not-sdp", "answer",
        "pc-id-number"])
def test_malformed_offer_gets_400_and_the_server_keeps_serving(
        server: ServeProcess, body: bytes | dict[str, Any]) -> None:
    status, reply = server.request("POST", "/api/offer", body)
    assert status == 400, reply
    assert isinstance(reply["error"], str) and reply["error"]
    assert_healthy(server)


def test_an_offer_the_edge_cannot_answer_gets_400_and_ends_its_call(
        server: ServeProcess) -> None:
    before = server.metrics()
    status, reply = server.request("POST", "/api/offer", {"sdp": NO_MEDIA_SDP, "type": "offer"})
    assert status == 400, reply
    assert reply["error"].startswith("offer rejected")
    after = server.metrics()
    # Admitted (counted), refused by the edge, over: no call is left behind.
    assert after["voxpipe_calls_total"] == before["voxpipe_calls_total"] + 1
    assert after["voxpipe_calls_active"] == 0
    assert_healthy(server)


def test_body_over_the_limit_gets_413(server: ServeProcess) -> None:
    big = json.dumps({"sdp": "v=0\r\n" + "a=x\r\n" * 60_000, "type": "offer"}).encode()
    status, reply = server.request("POST", "/api/offer", big)
    assert status == 413, reply
    assert "bytes" in reply["error"]
    assert_healthy(server)


@pytest.mark.parametrize(("body", "code"), [
    ({"pc_id": "pc-nobody", "candidates": []}, 404),
    ({"pc_id": "pc-nobody"}, 400),
    ({"pc_id": "pc-nobody", "candidates": [{"sdp_mid": "0"}]}, 400),
    (b"{", 400),
])
def test_bad_candidates_are_refused(server: ServeProcess, body: bytes | dict[str, Any],
                                    code: int) -> None:
    status, reply = server.request("PATCH", "/api/offer", body)
    assert status == code, reply
    assert reply["error"]


def test_metrics_parse_and_name_calls_and_stages(server: ServeProcess) -> None:
    m = server.metrics()
    for name in ("voxpipe_calls_active", "voxpipe_calls_total",
                 "voxpipe_calls_refused_total{reason=full}",
                 "voxpipe_calls_refused_total{reason=cpu}",
                 "voxpipe_barge_ins_total", "voxpipe_playout_underrun_frames_total",
                 "voxpipe_playout_late_frames_skipped_total",
                 "voxpipe_glitch_frames_total{cause=underrun}",
                 "voxpipe_glitch_frames_total{cause=late}"):
        assert name in m, sorted(m)
    for stage in (*STAGES, "supervisor"):
        assert m[f"voxpipe_stage_cpu_seconds_total{{stage={stage}}}"] > 0
    hops = [k for k in m if k.startswith("voxpipe_hop_latency_seconds{")]
    assert any("quantile=0.99" in k for k in hops), hops


def test_the_page_is_served(server: ServeProcess) -> None:
    status, page = server.request("GET", "/")
    assert status == 200
    assert "<!doctype html" in page.lower()
    assert server.request("GET", "/static/../../serve/app.py")[0] == 404


def test_beyond_max_sessions_is_503_and_counted_as_refused(tmp_path: Path) -> None:
    with ServeProcess("--max-sessions", "0", "--record", str(tmp_path)) as server:
        status, reply = server.request("POST", "/api/offer",
                                       {"sdp": NO_MEDIA_SDP, "type": "offer"})
        assert status == 503, reply
        assert "full" in reply["error"]
        m = server.metrics()
        assert m["voxpipe_calls_refused_total{reason=full}"] == 1
        assert m["voxpipe_calls_total"] == 0
        assert_healthy(server)
    assert list(tmp_path.iterdir()) == []  # a refused call is not started


def test_a_token_is_checked_on_offers() -> None:
    with ServeProcess("--token", "s3cret") as server:
        offer = {"sdp": "hello", "type": "offer"}
        assert server.request("POST", "/api/offer", offer)[0] == 401
        wrong = {"Authorization": "Bearer nope"}
        assert server.request("POST", "/api/offer", offer, wrong)[0] == 401
        assert server.request("PATCH", "/api/offer", {"pc_id": "x", "candidates": []},
                              wrong)[0] == 401
        right = {"Authorization": "Bearer s3cret"}
        status, reply = server.request("POST", "/api/offer", offer, right)
        assert status == 400, reply  # past the token: the offer itself is bad
        assert server.request("GET", "/healthz")[0] == 200  # health needs no token


def test_a_non_loopback_host_needs_a_token() -> None:
    res = subprocess.run([sys.executable, "-m", "pipeline.cli", "serve", "--host", "0.0.0.0",
                          "--port", "0"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("voxpipe: error:")]
    assert len(errors) == 1 and "--token" in errors[0], res.stderr
    assert "Traceback" not in res.stderr


def test_serve_help_names_every_flag() -> None:
    res = subprocess.run([sys.executable, "-m", "pipeline.cli", "serve", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    for flag in ("--host", "--port", "--agent", "--model", "--model-engine", "--record",
                 "--max-sessions", "--token", "--ice-server", "--insecure"):
        assert flag in res.stdout, flag
