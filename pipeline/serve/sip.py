"""``voxpipe serve --sip HOST:PORT``: a SIP user agent server over UDP.

Signalling lives here, in the serve process, as the HTTP signalling of browser calls
does; media (RTP) is the edge stage's (``pipeline.transports.sip.connection``). Each
datagram is parsed (``pipeline.transports.sip.message``), checked against
``--sip-allow`` (403 otherwise), matched to its server transaction (a retransmitted
request gets the same response, nothing more) and handed to its dialog
(``sip_dialog.SipDialog``). Malformed input is answered 400 when it can be routed
(it has a Via) and dropped otherwise; either way counted in ``/metrics`` and never
raised. Each INVITE is one session, id ``sip-<hex>`` (the SIP Call-ID is kept here).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import socket
from collections.abc import Callable, Sequence
from typing import cast

from prometheus_client import CollectorRegistry, Counter

from ipc.schema import SipTransport
from pipeline.serve.calls import Call, Calls
from pipeline.serve.sip_dialog import ALLOW, Address, SipDialog, UasContext
from pipeline.transports.sip.message import (
    SipMessage,
    SipParseError,
    build_response,
    check_request,
    parse,
    parse_headers,
    uri_of,
    warning,
)
from pipeline.transports.sip.room import SipRoom
from pipeline.transports.sip.sdp import NoCommonCodec, SdpError, parse_offer
from pipeline.transports.sip.transactions import (
    LIFETIME_S,
    ServerTransactions,
    transaction_key,
)

log = logging.getLogger("voxpipe.serve.sip")

DEFAULT_ALLOW = ("127.0.0.0/8", "::1/128")
DROP_REASONS = ("malformed", "not_allowed", "unmatched")


class SipMetrics:
    """The SIP counters of ``/metrics`` (on the server's registry)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("voxpipe_sip_requests_total", "SIP requests received, by method",
                                labelnames=["method"], registry=registry)
        self.responses = Counter("voxpipe_sip_responses_total", "SIP responses sent, by status",
                                 labelnames=["status"], registry=registry)
        self.rejected = Counter(
            "voxpipe_sip_rejected_total", "SIP datagrams refused or dropped, by reason: "
            "malformed (400 or dropped), not_allowed (403: outside --sip-allow), unmatched "
            "(a response or ACK of no transaction)", labelnames=["reason"], registry=registry)
        for reason in DROP_REASONS:
            self.rejected.labels(reason=reason)


class SipServer(asyncio.DatagramProtocol):
    """The UAS: every SIP datagram of the ``--sip`` socket."""

    def __init__(self, calls: Calls, metrics: SipMetrics, allow: Sequence[str] = ()) -> None:
        self.calls, self.metrics = calls, metrics
        self.allow = [ipaddress.ip_network(c, strict=False) for c in allow or DEFAULT_ALLOW]
        self.transactions = ServerTransactions()
        self.dialogs: dict[str, SipDialog] = {}  # by SIP Call-ID
        self.transport: asyncio.DatagramTransport | None = None
        self.address: Address = ("", 0)
        # Peers on a stream (SIP over TCP): how to write to them (see ``sip_tcp``).
        self.streams: dict[Address, Callable[[bytes], object]] = {}
        self.ctx = UasContext(self._send, self._respond, "", "", self._transport_of)
        self._tasks: set[asyncio.Task[None]] = set()
        self.tcp: asyncio.Server | None = None  # SIP over TCP on the same port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        host, port = self.transport.get_extra_info("sockname")[:2]
        self.address = (host, port)
        shown = f"[{host}]" if ":" in host else host
        self.ctx.contact, self.ctx.via_host = f"sip:agent@{shown}:{port}", f"{shown}:{port}"

    # -- sending ------------------------------------------------------------------------
    def _transport_of(self, peer: Address) -> str:
        return "TCP" if peer in self.streams else "UDP"

    def _send(self, data: bytes, peer: Address) -> None:
        write = self.streams.get(peer)
        if write is not None:
            write(data)
            return
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, peer)

    def _respond(self, peer: Address, data: bytes, key: tuple[str, str]) -> None:
        self.transactions.record(key, data)
        self.metrics.responses.labels(status=data[8:11].decode()).inc()
        self._send(data, peer)

    def _reply(self, req: SipMessage, peer: Address, status: int, reason: str,
               *headers: tuple[str, str]) -> None:
        """A response outside any dialog (a fresh To tag when it is final)."""
        data = build_response(req, status, reason, received=peer, headers=headers,
                              to_tag=secrets.token_hex(6) if status >= 200 else "")
        self._respond(peer, data, transaction_key(req))

    # -- receiving ----------------------------------------------------------------------
    def datagram_received(self, data: bytes, peer: Address) -> None:
        if not data.strip():
            return  # a keep-alive (RFC 5626 CRLF)
        peer = peer[:2]
        try:
            msg = parse(data)
        except SipParseError as exc:
            self._malformed(data, peer, exc)
            return
        try:
            self._dispatch(msg, peer)
        except SipParseError as exc:
            self._bad_request(msg, peer, exc)
        except Exception:  # a bug met by some input: this datagram only, never the server
            self.metrics.rejected.labels(reason="malformed").inc()
            log.exception("SIP %s from %s:%d could not be handled", msg.method or msg.status,
                          *peer)

    def _dispatch(self, msg: SipMessage, peer: Address) -> None:
        if not msg.is_request:
            dialog = self.dialogs.get(msg.call_id)
            if dialog is None:
                self.metrics.rejected.labels(reason="unmatched").inc()
            else:
                dialog.on_response(msg)
            return
        check_request(msg)
        self.metrics.requests.labels(method=msg.method).inc()
        if not self._allowed(peer[0]):
            self.metrics.rejected.labels(reason="not_allowed").inc()
            log.info("SIP %s from %s refused: outside --sip-allow", msg.method, peer[0])
            if msg.method != "ACK":
                self._reply(msg, peer, 403, "Forbidden")
            return
        if msg.method == "ACK":
            self._ack(msg)
            return
        key = transaction_key(msg)
        last = self.transactions.last(key)
        if last is not None:  # a retransmission: the same answer, nothing done twice
            if last:
                self._send(last, peer)
            return
        self.transactions.record(key)
        handler = {"INVITE": self._invite, "BYE": self._bye, "CANCEL": self._cancel,
                   "OPTIONS": self._options}.get(msg.method)
        if handler is None:
            self._reply(msg, peer, 501, "Not Implemented", ("Allow", ALLOW))
        else:
            handler(msg, peer)

    def _allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return False
        return any(address in net for net in self.allow)

    def _malformed(self, data: bytes, peer: Address, exc: Exception) -> None:
        """400 when the datagram's headers still route a response (a Via), else drop."""
        self.metrics.rejected.labels(reason="malformed").inc()
        log.debug("malformed SIP from %s:%d: %s", *peer, exc)
        try:
            salvaged = parse_headers(data)
        except SipParseError:
            return
        if salvaged.is_request and salvaged.method != "ACK" and salvaged.get("via"):
            self._reply(salvaged, peer, 400, "Bad Request", warning(399, exc))

    def _bad_request(self, msg: SipMessage, peer: Address, exc: Exception) -> None:
        self.metrics.rejected.labels(reason="malformed").inc()
        log.debug("bad SIP %s from %s:%d: %s", msg.method, *peer, exc)
        if msg.is_request and msg.method != "ACK" and msg.get("via"):
            self._reply(msg, peer, 400, "Bad Request", warning(399, exc))

    # -- methods ------------------------------------------------------------------------
    def _options(self, msg: SipMessage, peer: Address) -> None:
        self._reply(msg, peer, 200, "OK", ("Allow", ALLOW), ("Accept", "application/sdp"),
                    ("Contact", f"<{self.ctx.contact}>"))

    def _invite(self, msg: SipMessage, peer: Address) -> None:
        dialog = self.dialogs.get(msg.call_id)
        if msg.to_tag:
            if dialog is None or dialog.local_tag != msg.to_tag or dialog.ended:
                self._reply(msg, peer, 481, "Call/Transaction Does Not Exist")
                return
            try:
                offer = parse_offer(msg.body)
            except NoCommonCodec as exc:
                dialog.reply(488, "Not Acceptable Here", warning(304, exc), msg=msg,
                             key=transaction_key(msg))
                return
            except SdpError as exc:
                raise SipParseError(f"bad SDP: {exc}") from None
            dialog.on_reinvite(msg, transaction_key(msg), offer)
            return
        if dialog is not None:  # a new INVITE reusing a live Call-ID (a fork)
            self._reply(msg, peer, 482, "Loop Detected")
            return
        self._reply(msg, peer, 100, "Trying")
        try:
            offer = parse_offer(msg.body)
        except NoCommonCodec as exc:
            self._reply(msg, peer, 488, "Not Acceptable Here", warning(304, exc))
            return
        except SdpError as exc:
            raise SipParseError(f"bad SDP: {exc}") from None
        sid = f"sip-{secrets.token_hex(8)}"
        dialog = SipDialog(self.ctx, msg, peer, transaction_key(msg), sid, offer)
        self.dialogs[msg.call_id] = dialog
        log.info("INVITE %s from %s as call %s (%s)", msg.call_id, msg.get("from"), sid,
                 offer.codec, extra=dialog.log_extra)
        task = asyncio.get_running_loop().create_task(
            dialog.run(self.calls, lambda: self._start(dialog)), name=f"sip-{sid}")
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._finished(dialog, t))

    def _start(self, dialog: SipDialog) -> Call:
        offer = dialog.offer
        spec = SipTransport(call_id=dialog.session_id, remote_host=offer.host,
                            remote_port=offer.port, local_host=self._media_host(offer.host),
                            codec=offer.codec, payload_type=offer.payload_type,
                            dtmf_payload_type=offer.dtmf_payload_type)
        user = uri_of(dialog.invite.get("from") or "").partition(":")[2].split("@")[0]
        room = SipRoom(spec, self.calls.out_dir(dialog.session_id),
                       caller_identity=user or "caller")
        return self.calls.start(dialog.session_id, room)

    def _media_host(self, caller: str) -> str:
        """Our RTP address: the SIP socket's, or (bound to any) the one routing to the caller."""
        host = self.address[0]
        if host not in ("0.0.0.0", "::"):
            return host
        family = socket.AF_INET6 if ":" in caller else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((caller, 9))  # no packet is sent: this only picks a route
            return str(probe.getsockname()[0])

    def _finished(self, dialog: SipDialog, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call %s: %r", dialog.session_id, task.exception(),
                      extra=dialog.log_extra)
            dialog.session_ended()
        if dialog.call is None or dialog.call.task is None:
            self._forget(dialog)
        else:
            dialog.call.task.add_done_callback(lambda _: self._forget(dialog))

    def _forget(self, dialog: SipDialog) -> None:
        """The call is over: the dialog lives on only while its BYE is in flight."""
        async def later() -> None:
            await asyncio.sleep(LIFETIME_S)
            dialog.close()
            if self.dialogs.get(dialog.invite.call_id) is dialog:
                del self.dialogs[dialog.invite.call_id]
        task = asyncio.get_running_loop().create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _ack(self, msg: SipMessage) -> None:
        dialog = self.dialogs.get(msg.call_id)
        if dialog is not None and dialog.local_tag == msg.to_tag:
            dialog.on_ack()
        elif transaction_key(msg, "INVITE") not in self.transactions:
            self.metrics.rejected.labels(reason="unmatched").inc()

    def _bye(self, msg: SipMessage, peer: Address) -> None:
        dialog = self.dialogs.get(msg.call_id)
        if dialog is None or dialog.local_tag != msg.to_tag:
            self._reply(msg, peer, 481, "Call/Transaction Does Not Exist")
            return
        dialog.on_bye(msg, transaction_key(msg))

    def _cancel(self, msg: SipMessage, peer: Address) -> None:
        key = transaction_key(msg, "INVITE")
        dialog = next((d for d in self.dialogs.values() if d.key == key), None)
        if dialog is None:
            self._reply(msg, peer, 481, "Call/Transaction Does Not Exist")
            return
        self._reply(msg, peer, 200, "OK")
        dialog.on_cancel()

    # -- shutdown -----------------------------------------------------------------------
    def end_all(self) -> None:
        """SIGTERM: BYE every answered call, 503 every INVITE not answered yet."""
        for dialog in list(self.dialogs.values()):
            dialog.session_ended()

    def close(self) -> None:
        for dialog in self.dialogs.values():
            dialog.close()
        for task in list(self._tasks):
            task.cancel()
        if self.transport is not None:
            self.transport.close()
        if self.tcp is not None:
            self.tcp.close()
