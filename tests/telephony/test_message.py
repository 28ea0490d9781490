"""The SIP message parser and builder, the SDP offer/answer and the transaction table:
each edge case with the whole result checked, and a seeded mutation fuzz (only
``SipParseError``/``SdpError`` may come out of bad input)."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

from pipeline.transports.sip.message import (
    SipParseError,
    build_response,
    check_request,
    parse,
    parse_headers,
    tag_of,
    uri_of,
)
from pipeline.transports.sip.sdp import (
    AudioOffer,
    NoCommonCodec,
    SdpError,
    answer_sdp,
    parse_offer,
)
from pipeline.transports.sip.transactions import (
    Retransmission,
    ServerTransactions,
    transaction_key,
)
from tests.telephony.messages import G711_OFFER, request


def test_a_request_is_parsed_with_compact_forms_folded_lines_and_two_vias() -> None:
    data = (b"INVITE sip:agent@127.0.0.1 SIP/2.0\r\n"
            b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa;rport, SIP/2.0/UDP 10.0.0.2\r\n"
            b"f: <sip:a@x>;tag=1\r\nt: <sip:b@y>\r\ni: abc\r\nCSeq: 7 INVITE\r\n"
            b"Subject: one\r\n two\r\nl: 4\r\n\r\nbodyEXTRA")
    msg = parse(data)
    assert (msg.method, msg.uri, msg.status) == ("INVITE", "sip:agent@127.0.0.1", 0)
    assert msg.all("via") == ["SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa;rport",
                              "SIP/2.0/UDP 10.0.0.2"]
    assert (msg.branch, msg.from_tag, msg.to_tag, msg.call_id) == ("z9hG4bKa", "1", "", "abc")
    assert msg.cseq == (7, "INVITE") and msg.get("subject") == "one two"
    assert msg.body == b"body"  # Content-Length bounds the body
    check_request(msg)


def test_a_response_is_parsed() -> None:
    msg = parse(b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKb\r\n"
                b"Content-Length: 0\r\n\r\n")
    assert (msg.status, msg.reason, msg.is_request, msg.branch) == (180, "Ringing", False,
                                                                    "z9hG4bKb")


@pytest.mark.parametrize("data", [
    b"", b"\r\n\r\n", b"HELLO\r\n\r\n", b"INVITE sip:a SIP/3.0\r\n\r\n",
    b"INVITE nocolon SIP/2.0\r\n\r\n", b"SIP/2.0 99 Low\r\n\r\n",
    b"OPTIONS sip:a@b SIP/2.0\r\nno colon here\r\n\r\n",
    b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nshort",
    b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n",
    b"OPTIONS sip:a@b SIP/2.0\r\nVia: \xff\xfe\r\n\r\n",
    b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 12_000 + b"\r\n",
], ids=["empty", "blank", "no-version", "sip3", "no-uri", "status-99", "bad-header",
        "short-body", "bad-length", "not-utf8", "too-big"])
def test_malformed_messages_are_parse_errors(data: bytes) -> None:
    with pytest.raises(SipParseError):
        parse(data)


@pytest.mark.parametrize(("drop", "reason"), [
    ("Via", "no via"), ("Call-ID", "no call-id"), ("CSeq", "no cseq"), ("From", "no from")])
def test_a_request_missing_a_required_header_is_refused(drop: str, reason: str) -> None:
    lines = [ln for ln in request("OPTIONS").split(b"\r\n") if not ln.startswith(drop.encode())]
    with pytest.raises(SipParseError, match=reason):
        check_request(parse(b"\r\n".join(lines)))


def test_a_bad_cseq_is_refused() -> None:
    with pytest.raises(SipParseError, match="CSeq"):
        check_request(parse(request("OPTIONS").replace(b"CSeq: 1 OPTIONS", b"CSeq: one")))
    with pytest.raises(SipParseError, match="CSeq method"):
        check_request(parse(request("OPTIONS").replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 BYE")))


def test_a_response_copies_the_request_and_tags_to_once() -> None:
    req = parse(request("INVITE", body=G711_OFFER))
    resp = parse(build_response(req, 200, "OK", to_tag="t1", received=("127.0.0.9", 5999),
                                headers=[("Contact", "<sip:agent@h>")], body=b"x"))
    assert (resp.status, resp.reason, resp.to_tag, resp.from_tag) == (200, "OK", "t1", "from1")
    assert resp.get("via") == ("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport=5999;"
                               "received=127.0.0.9")
    assert (resp.call_id, resp.cseq, resp.body) == ("c1", (1, "INVITE"), b"x")
    again = parse(build_response(parse(request("BYE", to_tag="t1")), 200, "OK", to_tag="t2"))
    assert again.to_tag == "t1"


def test_name_addr_helpers() -> None:
    assert tag_of('"A;tag=no" <sip:a@b;tag=no>;tag=yes') == "yes"
    assert uri_of('"A" <sip:a@b:5060;transport=udp>;tag=x') == "sip:a@b:5060;transport=udp"
    assert uri_of("sip:a@b;tag=x") == "sip:a@b"


def test_an_offer_is_answered_with_its_first_g711_and_telephone_event() -> None:
    offer = parse_offer(G711_OFFER.encode())
    assert offer == AudioOffer("127.0.0.1", 6000, "PCMU", 0, 101, "sendrecv")
    answer = answer_sdp(offer, "127.0.0.1", 7000, session_id=5, version=2).decode()
    assert answer.splitlines() == [
        "v=0", "o=voxpipe 5 2 IN IP4 127.0.0.1", "s=voxpipe", "c=IN IP4 127.0.0.1", "t=0 0",
        "m=audio 7000 RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=ptime:20", "a=sendrecv"]


@pytest.mark.parametrize(("edit", "expected"), [
    (("m=audio 6000 RTP/AVP 0 8 101", "m=audio 6000 RTP/AVP 8 0"), ("PCMA", 8, 0, "sendrecv")),
    (("a=ptime:20", "a=sendonly"), ("PCMU", 0, 101, "sendonly")),
    (("a=ptime:20", "a=inactive"), ("PCMU", 0, 101, "inactive")),
    (("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0"), ("PCMU", 0, 101, "sendonly")),
    (("m=audio 6000 RTP/AVP 0 8 101", "m=audio 6000 RTP/AVP 96 101\r\na=rtpmap:96 pcma/8000"),
     ("PCMA", 96, 101, "sendrecv")),
])
def test_offers_choose_codec_and_direction(edit: tuple[str, str],
                                           expected: tuple[str, int, int, str]) -> None:
    offer = parse_offer(G711_OFFER.replace(*edit).encode())
    assert (offer.codec, offer.payload_type, offer.dtmf_payload_type,
            offer.direction) == expected


@pytest.mark.parametrize(("edit", "error"), [
    (("m=audio 6000 RTP/AVP 0 8 101", "m=audio 6000 RTP/AVP 9 18"), NoCommonCodec),
    (("m=audio 6000 RTP/AVP 0 8 101", "m=audio 0 RTP/AVP 0"), NoCommonCodec),
    (("m=audio 6000 RTP/AVP 0 8 101", "m=audio 6000 RTP/SAVP 0"), NoCommonCodec),
    (("m=audio", "m=video"), NoCommonCodec),
    (("v=0", "v=1"), SdpError),
    (("c=IN IP4 127.0.0.1", "c=IN IP4 host.example"), SdpError),
    (("c=IN IP4 127.0.0.1\r\n", ""), SdpError),
    (("m=audio 6000", "m=audio 99999"), SdpError),
    (("a=rtpmap:101 telephone-event/8000", "a=rtpmap:x y"), SdpError),
    (("s=-", "s-"), SdpError),
])
def test_offers_that_cannot_be_answered(edit: tuple[str, str], error: type[SdpError]) -> None:
    with pytest.raises(error) as raised:
        parse_offer(G711_OFFER.replace(*edit).encode())
    assert type(raised.value) is error


def test_a_retransmission_matches_its_transaction_and_cancel_finds_the_invite() -> None:
    now = [0.0]
    table = ServerTransactions(clock=lambda: now[0], lifetime_s=32.0)
    invite = parse(request("INVITE", body=G711_OFFER))
    key = transaction_key(invite)
    assert table.last(key) is None
    table.record(key, b"SIP/2.0 100 Trying")
    assert table.last(transaction_key(parse(request("INVITE", body=G711_OFFER)))) == \
        b"SIP/2.0 100 Trying"
    assert transaction_key(parse(request("CANCEL")), "INVITE") == key
    assert transaction_key(parse(request("INVITE", branch="z9hG4bK-2"))) != key
    now[0] = 33.0
    table.prune()
    assert len(table) == 0 and key not in table


def test_rfc2543_peers_are_matched_by_call_id_tag_and_cseq() -> None:
    a = transaction_key(parse(request("OPTIONS", branch="old")))
    b = transaction_key(parse(request("OPTIONS", branch="other")))
    c = transaction_key(parse(request("OPTIONS", branch="old", cseq=2)))
    assert a == b != c


SEEDS = [request("INVITE", body=G711_OFFER), request("OPTIONS"), request("BYE", to_tag="t"),
         request("CANCEL"), request("ACK", to_tag="t")]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One random edit: flip, insert, delete, cut, duplicate a line or drop one."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op, at = rng.randrange(6), rng.randrange(max(1, len(b)))
        if op == 0 and b:
            b[at] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 2:
            del b[at:at + rng.randint(1, 16)]
        elif op == 3:
            del b[at:]
        else:
            lines = bytes(b).split(b"\r\n")
            i = rng.randrange(len(lines))
            lines[i:i + 1] = [lines[i]] * 2 if op == 4 else []
            b = bytearray(b"\r\n".join(lines))
    return bytes(b)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzzed_messages_parse_or_fail_with_a_parse_error_only(seed: int) -> None:
    rng = random.Random(seed)
    print("fuzz seed", seed)
    outcomes = {"parsed": 0, "refused": 0}
    for i in range(3000):
        data = mutate(rng, SEEDS[i % len(SEEDS)])
        try:
            msg = parse(data)
            check_request(msg) if msg.is_request else None
            if msg.body:
                parse_offer(msg.body)
            outcomes["parsed"] += 1
        except (SipParseError, SdpError):
            outcomes["refused"] += 1
            with contextlib.suppress(SipParseError):
                parse_headers(data)
    print(outcomes)
    assert outcomes["parsed"] > 0 and outcomes["refused"] > 0


def test_retransmission_doubles_to_t2_and_gives_up_after_64_t1() -> None:
    async def run(stop_after: int | None) -> tuple[int, int]:
        sent, timeouts = [0], [0]
        done = asyncio.Event()

        def send() -> None:
            sent[0] += 1
            if stop_after is not None and sent[0] == stop_after:
                timer.stop()
                done.set()

        def timed_out() -> None:
            timeouts[0] += 1
            done.set()

        timer = Retransmission(send, timed_out, t1_s=0.001, t2_s=0.004)
        await asyncio.wait_for(done.wait(), 5.0)
        await asyncio.sleep(0.08)  # past 64*T1: a stopped timer stays quiet
        return sent[0], timeouts[0]

    # Sends at 1, 3, 7, 11, ... 63 ms (intervals 1, 2, 4, 4, ...): 17 before 64*T1.
    assert asyncio.run(run(None)) == (17, 1)
    assert asyncio.run(run(2)) == (2, 0)
