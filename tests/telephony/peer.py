"""A SIP peer for the tests that need to say exactly what is sent: one UDP socket on
127.0.0.1, raw requests out, parsed messages in."""

from __future__ import annotations

import re
import socket
import struct
import time

from pipeline.transports.rtp.packet import build_rtp
from pipeline.transports.sip.message import SipMessage, build_response, parse
from tests.telephony.messages import G711_OFFER, request


class SipPeer:
    def __init__(self, server: tuple[str, int], host: str = "127.0.0.1") -> None:
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = int(self.sock.getsockname()[1])

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def receive(self, timeout_s: float = 15.0) -> SipMessage | None:
        """The next message (None if nothing came within ``timeout_s``)."""
        self.sock.settimeout(timeout_s)
        try:
            data, _ = self.sock.recvfrom(65535)
        except TimeoutError:
            return None
        return parse(data)

    def until(self, want: str, timeout_s: float = 30.0) -> tuple[SipMessage, list[SipMessage]]:
        """Messages until one whose status (e.g. "200") or method (e.g. "BYE") is
        ``want``: that one and all received before it."""
        seen: list[SipMessage] = []
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            msg = self.receive(left)
            if msg is None:
                break
            if str(msg.status) == want or msg.method == want:
                return msg, seen
            seen.append(msg)
        raise AssertionError(f"no {want} within {timeout_s} s; got "
                             f"{[m.status or m.method for m in seen]}")

    def call(self, call_id: str, ack_branch: str) -> SipMessage:
        """INVITE with a G.711 offer, wait for the 200 and ACK it: the 200."""
        self.send(request("INVITE", port=self.port, call_id=call_id, body=G711_OFFER))
        ok, _ = self.until("200")
        self.send(request("ACK", port=self.port, call_id=call_id, branch=ack_branch,
                          to_tag=ok.to_tag))
        return ok

    def answer(self, req: SipMessage, status: int = 200, reason: str = "OK") -> None:
        self.send(build_response(req, status, reason))

    def send_rtp(self, port: int, packets: int, *, payload_type: int = 0,
                 keys: str = "", dtmf_payload_type: int = 101) -> None:
        """``packets`` of 20 ms G.711 silence to the edge's RTP ``port`` (paced), from a
        socket of their own (symmetric RTP latches on it), then each of ``keys`` as an
        RFC 4733 event (three 20 ms updates, the end packet sent three times)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtp:
            rtp.bind((self.sock.getsockname()[0], 0))
            silence = (b"\xff" if payload_type == 0 else b"\xd5") * 160
            seq = ts = 0
            for i in range(packets):
                rtp.sendto(build_rtp(payload_type, seq, ts, 0x1234, silence, i == 0),
                           (self.server[0], port))
                seq, ts = seq + 1, ts + 160
                time.sleep(0.02)
            for key in keys:
                code = "0123456789*#ABCD".index(key)
                for step in (1, 2, 3, 3, 3):
                    end = 0x80 if step == 3 else 0
                    payload = struct.pack("!BBH", code, end | 10, 160 * step)
                    rtp.sendto(build_rtp(dtmf_payload_type, seq, ts, 0x1234, payload,
                                         step == 1), (self.server[0], port))
                    seq += 1
                    time.sleep(0.02)
                ts += 480

    def close(self) -> None:
        self.sock.close()


def media_port(msg: SipMessage) -> int:
    found = re.search(rb"m=audio (\d+) ", msg.body)
    assert found, msg.body
    return int(found.group(1))
