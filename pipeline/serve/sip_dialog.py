"""One SIP call on ``voxpipe serve --sip``: its INVITE transaction and its dialog.

``SipDialog.run`` takes an admitted INVITE from 180 Ringing to 200 OK: the call's
session starts on a ``SipRoom`` (``Calls.start``), the edge binds the RTP socket and
says where (``RtpReady``, through ``Calls.answer``), and the 200's SDP names it; the
200 is repeated until the caller's ACK (timers G/H). Then either side may end it: the
caller's BYE stops the session; the session ending first (the agent is done, the
caller's media went silent, the server stops) makes us send BYE. A CANCEL before
the 200 gets 487 on the INVITE; a re-INVITE (hold, unhold) is answered with the
direction mirrored, media going on where it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ipc.schema import RtpReady
from pipeline.logs import session_extra
from pipeline.serve.calls import Call, CallError, CallRefused, Calls, CallsFull
from pipeline.transports.sip.message import (
    SipMessage,
    build_request,
    build_response,
    new_branch,
    new_tag,
    warning,
)
from pipeline.transports.sip.sdp import AudioOffer, answer_sdp, new_session_id
from pipeline.transports.sip.transactions import Retransmission, TransactionKey

log = logging.getLogger("voxpipe.serve.sip")

Address = tuple[str, int]
# Seconds a refused caller is asked to wait before trying again (503).
RETRY_AFTER_S = 5
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS"


@dataclass
class UasContext:
    """What every dialog shares with the server: how to send, where it is."""

    send: Callable[[bytes, Address], None]
    respond: Callable[[Address, bytes, TransactionKey], None]  # sent and remembered
    contact: str  # our Contact URI
    via_host: str  # our sent-by (host:port) in requests we send
    transport_of: Callable[[Address], str]  # "UDP", or "TCP" for a peer on a stream


@dataclass(eq=False)
class SipDialog:
    """The call a SIP Call-ID names, from its INVITE to its BYE."""

    ctx: UasContext
    invite: SipMessage
    peer: Address
    key: TransactionKey  # the INVITE's server transaction
    session_id: str
    offer: AudioOffer
    local_tag: str = field(default_factory=new_tag)
    call: Call | None = None
    final_sent: bool = False  # the INVITE got its final response
    confirmed: bool = False  # the ACK to our 200 came
    ended: bool = False
    cancelled: bool = False
    sdp_id: int = field(default_factory=new_session_id)
    sdp_version: int = 1
    media: tuple[str, int] = ("", 0)
    local_cseq: int = 0
    _pending_2xx: Retransmission | None = None
    _bye: Retransmission | None = None
    _bye_branch: str = ""

    @property
    def log_extra(self) -> dict[str, str]:
        return session_extra(self.session_id)

    # -- the INVITE -------------------------------------------------------------------
    def reply(self, status: int, reason: str, *headers: tuple[str, str],
              body: bytes = b"", msg: SipMessage | None = None,
              key: TransactionKey | None = None) -> bytes:
        """Respond within the dialog (our To tag) to ``msg`` (default: the INVITE)."""
        data = build_response(msg or self.invite, status, reason, to_tag=self.local_tag,
                              received=self.peer, headers=headers, body=body)
        self.ctx.respond(self.peer, data, key or self.key)
        return data

    async def run(self, calls: Calls, room_call: Callable[[], Call]) -> None:
        """Admit, ring, wait for the edge, answer; a failure is the INVITE's final."""
        try:
            calls.admit()
        except CallsFull as exc:
            self._fail(486, "Busy Here", exc)
            return
        except CallRefused as exc:
            self._fail(503, "Service Unavailable", exc, ("Retry-After", str(RETRY_AFTER_S)))
            return
        self.call = room_call()
        if self.call.task is not None:
            self.call.task.add_done_callback(lambda _: self.session_ended())
        self.reply(180, "Ringing")
        try:
            ready = await calls.answer(self.call)
        except CallRefused as exc:
            self._fail(503, "Service Unavailable", exc, ("Retry-After", str(RETRY_AFTER_S)))
            return
        except CallError as exc:
            self._fail(500, "Server Internal Error", exc)
            return
        if self.final_sent:  # cancelled, or the session ended, while the edge got ready
            return
        if not isinstance(ready, RtpReady):
            self._fail(500, "Server Internal Error", TypeError(f"edge answered {ready!r}"))
            return
        self.media = (ready.host, ready.port)
        self._answer(self.invite, self.key)
        log.info("call %s answered: RTP %s:%d <-> %s:%d (%s)", self.session_id, *self.media,
                 self.offer.host, self.offer.port, self.offer.codec, extra=self.log_extra)

    def _fail(self, status: int, reason: str, exc: Exception, *headers: tuple[str, str]) -> None:
        if self.final_sent:
            return
        log.info("call %s: %d %s (%s)", self.session_id, status, reason, exc,
                 extra=self.log_extra)
        self.final_sent = self.ended = True
        self.reply(status, reason, *headers, warning(399, exc))

    def _answer(self, msg: SipMessage, key: TransactionKey) -> None:
        """200 OK with our SDP, repeated until the ACK comes."""
        body = answer_sdp(self.offer, *self.media, session_id=self.sdp_id,
                          version=self.sdp_version)
        # A proxy that asked to stay on the path (Record-Route) gets it back (12.1.1).
        routes = [("Record-Route", r) for r in self.invite.all("record-route")]
        data = self.reply(200, "OK", *routes, ("Contact", f"<{self.ctx.contact}>"),
                          ("Allow", ALLOW), ("Content-Type", "application/sdp"), body=body,
                          msg=msg, key=key)
        self.final_sent, self.confirmed = True, False
        if self._pending_2xx is not None:
            self._pending_2xx.stop()
        self._pending_2xx = Retransmission(lambda: self.ctx.send(data, self.peer),
                                           self._no_ack)

    def _no_ack(self) -> None:
        log.warning("call %s: no ACK to the 200 (timer H): hanging up", self.session_id,
                    extra=self.log_extra)
        self.hang_up()

    # -- in the dialog ----------------------------------------------------------------
    def on_ack(self) -> None:
        if self._pending_2xx is not None:
            self._pending_2xx.stop()
        self.confirmed = True

    def on_cancel(self) -> None:
        """The caller gave up before the answer: 487 on the INVITE, the session stops."""
        if self.final_sent:
            return
        self.final_sent = self.ended = self.cancelled = True
        self.reply(487, "Request Terminated")
        log.info("call %s cancelled by the caller", self.session_id, extra=self.log_extra)
        self._stop_session()

    def on_bye(self, msg: SipMessage, key: TransactionKey) -> None:
        self.reply(200, "OK", msg=msg, key=key)
        if self._pending_2xx is not None:
            self._pending_2xx.stop()
        if not self.ended:
            log.info("call %s: the caller hung up", self.session_id, extra=self.log_extra)
        self.ended = True
        self._stop_session()

    def on_reinvite(self, msg: SipMessage, key: TransactionKey, offer: AudioOffer) -> None:
        """Hold/unhold (or any new offer): the same media, the direction mirrored."""
        self.offer, self.sdp_version = offer, self.sdp_version + 1
        log.info("call %s re-INVITE: caller %s", self.session_id, offer.direction,
                 extra=self.log_extra)
        self._answer(msg, key)

    def on_response(self, msg: SipMessage) -> None:
        """A response to our BYE ends its retransmission."""
        if msg.branch == self._bye_branch and msg.status >= 200 and self._bye is not None:
            self._bye.stop()

    # -- ending -----------------------------------------------------------------------
    def session_ended(self) -> None:
        """The call's session is over: a dialog still up is ended with our BYE."""
        if not self.final_sent:
            self._fail(480, "Temporarily Unavailable", RuntimeError("the session ended"))
        elif not self.ended:
            self.hang_up()

    def hang_up(self) -> None:
        """Send BYE (repeated until answered) and stop the session."""
        if self.ended:
            return
        self.ended = True
        if self._pending_2xx is not None:
            self._pending_2xx.stop()
        self.local_cseq += 1
        self._bye_branch = new_branch()
        data = build_request("BYE", self.invite.contact_uri or self.invite.uri, [
            ("Via", f"SIP/2.0/{self.ctx.transport_of(self.peer)} {self.ctx.via_host};"
                    f"branch={self._bye_branch};rport"),
            ("Max-Forwards", "70"),
            ("From", f"{self.invite.get('to')};tag={self.local_tag}"),
            ("To", self.invite.get("from") or ""),
            ("Call-ID", self.invite.call_id), ("CSeq", f"{self.local_cseq} BYE"),
            ("Contact", f"<{self.ctx.contact}>"),
            # The dialog's route set: the INVITE's Record-Route, in order (12.1.1).
            *[("Route", r) for r in self.invite.all("record-route")]])
        log.info("call %s: hanging up (BYE)", self.session_id, extra=self.log_extra)
        self.ctx.send(data, self.peer)
        self._bye = Retransmission(lambda: self.ctx.send(data, self.peer), lambda: None)
        self._stop_session()

    def _stop_session(self) -> None:
        if self.call is not None:
            self.call.stop.set()

    def close(self) -> None:
        for timer in (self._pending_2xx, self._bye):
            if timer is not None:
                timer.stop()

