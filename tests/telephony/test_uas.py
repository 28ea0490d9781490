"""The UAS as a raw peer sees it: malformed input answered 400 or dropped and counted,
a retransmitted INVITE absorbed, the 200 repeated until its ACK, a call whose media
never comes ended by the server's BYE, SIGTERM hanging up every call with BYE, and a
seeded fuzz of datagrams that leaves the server answering."""

from __future__ import annotations

import random
import signal
import socket
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.record.event_log import read_event_log
from pipeline.transports.sip.message import parse
from tests.telephony.conftest import SipServer, start_sip_server
from tests.telephony.messages import G711_OFFER, request
from tests.telephony.peer import SipPeer, media_port
from tests.telephony.test_message import SEEDS, mutate
from tests.telephony.test_sipp import settled

MALFORMED = "voxpipe_sip_rejected_total{reason=malformed}"


@pytest.fixture
def peer(sip_server: SipServer) -> Iterator[SipPeer]:
    p = SipPeer(sip_server.address)
    yield p
    p.close()


def test_malformed_sip_is_answered_400_when_routable_else_dropped_and_counted(
        sip_server: SipServer, peer: SipPeer) -> None:
    before = sip_server.process.metrics()[MALFORMED]
    peer.send(b"\x00\x01garbage that is not SIP\r\n\r\n")
    peer.send(request("OPTIONS").replace(b"CSeq: 1 OPTIONS", b"CSeq: x OPTIONS"))
    reply = peer.receive()
    assert reply is not None and reply.status == 400, reply
    assert "CSeq" in (reply.get("warning") or "")
    peer.send(request("OPTIONS", branch="z9hG4bK-ok"))
    ok = peer.receive()  # nothing came for the garbage: the next answer is this one's
    assert ok is not None and (ok.status, ok.branch) == (200, "z9hG4bK-ok")
    assert sip_server.process.metrics()[MALFORMED] == before + 2


def test_a_retransmitted_invite_is_absorbed_and_an_unanswered_call_gets_our_bye(
        sip_server: SipServer, peer: SipPeer) -> None:
    calls = sip_server.process.metrics()["voxpipe_calls_total"]
    proxies = ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]  # as if it came through two
    invite = request("INVITE", port=peer.port, call_id="retrans-1", body=G711_OFFER,
                     extra=(f"Record-Route: {proxies[0]}, {proxies[1]}",))
    peer.send(invite)
    first, early = peer.until("180")
    peer.send(invite)  # the same transaction again: its last response, no second call
    ok, between = peer.until("200")
    assert [m.status for m in early] == [100]
    assert all(m.status in (180, 200) for m in between), between
    assert media_port(ok) > 0 and ok.to_tag == first.to_tag
    assert ok.all("record-route") == proxies
    repeat, _ = peer.until("200")  # no ACK yet: the 200 comes again (timer G)
    assert repeat.body == ok.body
    peer.send(request("ACK", port=peer.port, call_id="retrans-1", branch="z9hG4bK-ack",
                      to_tag=ok.to_tag))
    assert sip_server.process.metrics()["voxpipe_calls_total"] == calls + 1
    # No RTP ever comes: the edge ends the call after its media timeout; we get a BYE.
    bye, _ = peer.until("BYE", timeout_s=60.0)
    assert (bye.call_id, bye.from_tag, bye.cseq[1]) == ("retrans-1", ok.to_tag, "BYE")
    assert bye.uri == f"sip:peer@127.0.0.1:{peer.port}" and bye.all("route") == proxies
    peer.answer(bye)
    assert settled(sip_server, "voxpipe_calls_active", 0.0) == 0.0


def test_a_bye_or_cancel_of_no_call_is_481(sip_server: SipServer, peer: SipPeer) -> None:
    peer.send(request("BYE", call_id="nobody", to_tag="x"))
    peer.send(request("CANCEL", call_id="nobody", branch="z9hG4bK-none"))
    statuses = sorted(m.status for m in (peer.receive(), peer.receive()) if m is not None)
    assert statuses == [481, 481]


def test_sigterm_hangs_up_every_call_with_bye(tmp_path: Path) -> None:
    server = start_sip_server(tmp_path / "calls")
    peer = SipPeer(server.address)
    try:
        ok = peer.call("term-1", ack_branch="z9hG4bK-a")
        peer.send_rtp(media_port(ok), 50)  # a second of the caller's (silent) audio
        server.process.proc.send_signal(signal.SIGTERM)
        bye, _ = peer.until("BYE")
        peer.answer(bye)
        assert server.process.stop() == 0, server.process.output
    finally:
        peer.close()
        server.process.stop()
    [record] = [p for p in (tmp_path / "calls").iterdir() if p.name.startswith("sip-")]
    events = read_event_log(record / "events.jsonl")
    assert events[-1]["type"] == "session_closed"
    with wave.open(str(record / "conversation.wav")) as w:  # finalized, holding the call
        assert w.getnchannels() == 2 and w.getnframes() > 0


def test_fuzzed_datagrams_get_parsable_answers_and_the_server_keeps_answering(
        full_server: SipServer) -> None:
    peer = SipPeer(full_server.address, host="127.0.0.2")  # the one allowed address
    rng = random.Random(12)
    before = full_server.process.metrics()[MALFORMED]
    try:
        for i in range(300):
            peer.send(mutate(rng, SEEDS[i % len(SEEDS)]))
        statuses = []
        while (msg := peer.receive(timeout_s=2.0)) is not None:
            statuses.append(msg.status)
        assert statuses and set(statuses) <= {100, 200, 400, 403, 481, 482, 486, 488, 501}
        peer.send(request("OPTIONS", host="127.0.0.2", branch="z9hG4bK-after"))
        after = peer.until("200")[0]
        assert after.branch == "z9hG4bK-after"
    finally:
        peer.close()
    assert full_server.process.metrics()[MALFORMED] > before



DTMF_AGENT = Path(__file__).with_name("dtmf_agent.py")


def test_key_presses_reach_the_agent_as_sip_dtmf_received(tmp_path: Path) -> None:
    server = start_sip_server(tmp_path / "calls", "--agent", str(DTMF_AGENT))
    peer = SipPeer(server.address)
    try:
        ok = peer.call("keys-1", ack_branch="z9hG4bK-k")
        peer.send_rtp(media_port(ok), 25, keys="1#")
        peer.send(request("BYE", port=peer.port, call_id="keys-1", branch="z9hG4bK-b",
                          cseq=2, to_tag=ok.to_tag))
        peer.until("200")
        assert settled(server, "voxpipe_calls_active", 0.0) == 0.0
    finally:
        peer.close()
        server.process.stop()
    [record] = [p for p in (tmp_path / "calls").iterdir() if p.name.startswith("sip-")]
    attributes = [e["attributes"] for e in read_event_log(record / "events.jsonl")
                  if e["type"] == "participant_attributes" and "dtmf" in e["attributes"]]
    assert attributes[-1] == {"dtmf": "1:1,#:11", "dtmf.participant": "peer"}, attributes


def test_tcp_framing_needs_content_length(sip_server: SipServer) -> None:
    before = sip_server.process.metrics()[MALFORMED]
    unframed = b"\r\n".join(ln for ln in request("OPTIONS").split(b"\r\n")
                            if not ln.startswith(b"Content-Length"))
    with socket.create_connection(sip_server.address, timeout=15) as s:
        s.sendall(b"\r\n\r\n" + request("OPTIONS", branch="z9hG4bK-tcp"))  # a keep-alive first
        assert parse(s.recv(65535)).status == 200
        s.sendall(unframed)
        assert s.recv(65535) == b""  # the stream cannot be framed: closed
    assert sip_server.process.metrics()[MALFORMED] == before + 1
