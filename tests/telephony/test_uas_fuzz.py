"""The UAS's whole dispatch fuzzed in-process (thousands of datagrams a second): a
``SipServer`` on a recording transport, its calls refused (``CallsFull``), fed seeded
mutations of real requests. Nothing may escape ``datagram_received``; everything it
sends must parse as a SIP response with a status it is meant to give, and it must
still answer a clean OPTIONS afterwards."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from pipeline.serve.calls import Calls, CallsFull
from pipeline.serve.sip import SipMetrics, SipServer
from pipeline.transports.sip.message import parse
from tests.telephony.messages import request
from tests.telephony.test_message import SEEDS, mutate

PEER = ("127.0.0.1", 5070)
ALLOWED = {100, 180, 200, 400, 403, 481, 482, 486, 487, 488, 501}


class RecordingTransport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, addr: Any) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 5060) if name == "sockname" else None

    def close(self) -> None:
        pass


class NoCalls:
    """``Calls`` at ``--max-sessions 0``: every INVITE is refused before a session."""

    accepting = True

    def admit(self) -> None:
        raise CallsFull("the server is full (0 calls)")

    def out_dir(self, call_id: str) -> Path:
        raise AssertionError("no call is ever started")


@pytest.mark.parametrize("seed", [5, 6])
def test_fuzzed_datagrams_never_escape_and_get_routable_answers(
        seed: int, caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> tuple[list[bytes], float]:
        registry = CollectorRegistry()
        server = SipServer(cast(Calls, NoCalls()), SipMetrics(registry))
        transport = RecordingTransport()
        server.connection_made(cast(asyncio.DatagramTransport, transport))
        rng = random.Random(seed)
        print("fuzz seed", seed)
        for i in range(4000):
            server.datagram_received(mutate(rng, SEEDS[i % len(SEEDS)]), PEER)
            if i % 100 == 0:
                await asyncio.sleep(0)  # let the refused INVITEs' tasks answer
        await asyncio.sleep(0.05)
        transport.sent.clear()
        server.datagram_received(request("OPTIONS", branch="z9hG4bK-clean"), PEER)
        clean = list(transport.sent)
        malformed = registry.get_sample_value("voxpipe_sip_rejected_total",
                                              {"reason": "malformed"}) or 0.0
        server.close()
        return clean, malformed

    clean, malformed = asyncio.run(run())
    assert malformed > 0
    assert [parse(d).status for d in clean] == [200]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_an_rfc2543_request_with_a_bad_cseq_is_answered_400() -> None:
    """No magic-cookie branch: the transaction is keyed by the CSeq as written."""
    server = SipServer(cast(Calls, NoCalls()), SipMetrics(CollectorRegistry()))
    transport = RecordingTransport()
    server.connection_made(cast(asyncio.DatagramTransport, transport))
    server.datagram_received(
        request("OPTIONS", branch="1").replace(b"CSeq: 1 OPTIONS", b"CSeq: x OPTIONS"), PEER)
    assert [parse(d).status for d in transport.sent] == [400]


def test_every_answer_to_fuzz_parses_with_an_expected_status() -> None:
    async def run() -> list[bytes]:
        server = SipServer(cast(Calls, NoCalls()), SipMetrics(CollectorRegistry()))
        transport = RecordingTransport()
        server.connection_made(cast(asyncio.DatagramTransport, transport))
        rng = random.Random(7)
        for i in range(2000):
            server.datagram_received(mutate(rng, SEEDS[i % len(SEEDS)]), PEER)
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        server.close()
        return transport.sent

    sent = asyncio.run(run())
    statuses = [parse(d).status for d in sent]
    assert statuses and set(statuses) <= ALLOWED, set(statuses) - ALLOWED
    assert {400, 486} <= set(statuses)  # the fuzz reached both the refusal and the 400s
