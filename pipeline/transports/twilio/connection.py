"""The Twilio transport's edge half: one media stream websocket per call.

``open`` takes the call's TCP socket from serve (``handoff.py``) and completes the
websocket handshake on it (``websocket.py``); from then on the stream is this
process's. Inbound (``messages.py``): ``media`` payloads are the caller's audio
(mu-law 8 kHz, ``audio.py``), ``dtmf`` a key press (``DtmfReceived``), ``mark`` the
echo of one of ours, ``stop`` or the socket's close the end of the call. Outbound, each
paced agent frame goes as one ``media`` message followed by a ``mark`` named after its
playout tick; the echoes are the clock of what the caller heard (``marks.py``),
reported to playout. A barge-in sends ``clear`` (if the far end still holds audio)
and forgets the marks not echoed.

Bad input (not JSON, an unknown event, a payload that is not base64, media before
``start``, binary frames) is counted and skipped; it never ends the call.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Final

from ipc.schema import DtmfReceived, SessionConfig, TwilioTransport
from native.g711 import ulaw_decode
from pipeline.logs import session_extra
from pipeline.transports.base import AudioFormat, EdgeConnectionDefaults, EmitEvent, ReportHeard
from pipeline.transports.twilio import messages
from pipeline.transports.twilio.audio import RATE, AgentEncoder
from pipeline.transports.twilio.handoff import take_socket
from pipeline.transports.twilio.marks import MarkClock
from pipeline.transports.twilio.websocket import ServerWebSocket

log = logging.getLogger("voxpipe.edge.twilio")

CALLER_FORMAT: Final = AudioFormat(RATE, 1)
MULAW: Final = messages.MediaFormat()
_END: Final = b""


class TwilioConnection(EdgeConnectionDefaults):
    """One session's media stream (an ``EdgeConnection``)."""

    #: The websocket lives in this process: an edge restart ends the call.
    reopenable = False

    def __init__(self, cfg: SessionConfig, emit: EmitEvent) -> None:
        if not isinstance(cfg.transport, TwilioTransport):
            raise TypeError(f"not a twilio transport: {cfg.transport!r}")
        if not cfg.transport.handoff_path:
            raise ValueError("a twilio transport needs the server's handoff_path")
        self.spec = cfg.transport
        self.session = cfg.session
        self._emit = emit
        self._report: ReportHeard | None = None
        self.ws: ServerWebSocket | None = None
        self.stream_sid: str | None = None  # the far end's, from ``start``
        self.call_sid = ""
        self.custom_parameters: dict[str, str] = {}
        self.marks = MarkClock()
        self.encoder = AgentEncoder()
        self.counts: Counter[str] = Counter()

    # -- EdgeConnection ----------------------------------------------------------
    def report_heard(self, report: ReportHeard) -> None:
        self._report = report

    async def open(self) -> AudioFormat:
        """Take the socket from serve and answer the websocket handshake."""
        sock, request = await take_socket(self.spec.handoff_path, self.open_timeout_s)
        try:
            self.ws = await ServerWebSocket.accept(sock, request)
        except BaseException:
            sock.close()
            raise
        return CALLER_FORMAT

    async def receive(self) -> bytes:
        """The next media payload as int16 at 8 kHz; ``b""`` at ``stop`` or close."""
        assert self.ws is not None
        while (message := await self.ws.recv()) is not None:
            binary, data = message
            if binary:
                self._bad("binary_frames", "a binary frame")
                continue
            parsed = messages.parse(data)
            if isinstance(parsed, str):
                self._bad(parsed, data[:80].decode(errors="replace"))
                continue
            pcm = self._on_message(parsed)
            if pcm is not None:
                return pcm
        self.counts["closed_by_peer"] += 1
        return _END

    def _on_message(self, msg: messages.Inbound) -> bytes | None:
        """The caller's audio in ``msg``, ``_END`` for the end of the stream, or None."""
        if isinstance(msg, messages.Media):
            return self._media(msg.media)
        if isinstance(msg, messages.Mark):
            seq = self.marks.echo(msg.mark.name)
            if seq is not None and self._report is not None:
                self._report(seq)
        elif isinstance(msg, messages.Dtmf):
            self._dtmf(msg.dtmf.digit)
        elif isinstance(msg, messages.Start):
            self._start(msg.start)
        elif isinstance(msg, messages.Stop):
            self.counts["stops"] += 1
            log.info("stream %s stopped", self.stream_sid, extra=session_extra(self.session))
            return _END
        return None

    def _start(self, info: messages.StartInfo) -> None:
        if self.stream_sid is not None:
            self._bad("duplicate_starts", "a second start")
            return
        if info.mediaFormat != MULAW:
            # Twilio streams mu-law 8 kHz mono only; anything else is not Twilio's.
            raise ConnectionError(f"unsupported media format {info.mediaFormat}")
        self.stream_sid, self.call_sid = info.streamSid, info.callSid
        self.custom_parameters = dict(info.customParameters)
        log.info("stream %s of call %s started (tracks %s, %d custom parameters)",
                 info.streamSid, info.callSid, info.tracks, len(info.customParameters),
                 extra=session_extra(self.session))

    def _media(self, media: messages.MediaInfo) -> bytes | None:
        if self.stream_sid is None:
            self._bad("media_before_start", "media before start")
        elif media.track not in ("inbound", "inbound_track"):
            self.counts["media_other_track"] += 1
        elif not media.payload:
            self.counts["media_empty"] += 1
        else:
            self.counts["media_in"] += 1
            return ulaw_decode(media.payload)  # int16 at 8 kHz
        return None

    def _dtmf(self, digit: str) -> None:
        code = messages.DTMF_CODES.get(digit.upper()) if len(digit) == 1 else None
        if code is None or self.stream_sid is None:
            self._bad("bad_dtmf", f"dtmf {digit!r}")
            return
        self.counts["dtmf_in"] += 1
        self._emit(DtmfReceived(digit.upper(), code))

    async def send(self, seq: int, sample_rate: int, pcm: bytes,
                   position: int | None = None) -> None:
        """One agent frame as ``media``, then its ``mark`` (named by ``seq``, which
        playout's ``EdgeHeard`` reads back). ``position`` is not needed: the far end
        plays what it is sent in order, at its own pace."""
        if self.ws is None or self.stream_sid is None:
            self.counts["egress_before_start"] += 1
            return
        self.ws.send_text(messages.media(self.stream_sid, self.encoder.encode(
            seq, sample_rate, pcm)))
        self.ws.send_text(messages.mark(self.stream_sid, self.marks.sent(seq)))
        self.counts["media_out"] += 1
        await self.ws.drain()

    async def flush(self) -> None:
        """Barge-in: ``clear``; the marks not echoed are of audio nobody will hear. With
        every mark echoed the far end holds nothing (playout flushes at every onset of
        the caller's speech, the agent's or not): no ``clear`` then."""
        self.encoder.reset()
        if self.ws is None or self.stream_sid is None or not self.marks.pending:
            return
        self.ws.send_text(messages.clear(self.stream_sid))
        self.counts["clears"] += 1
        self.counts["marks_cleared"] += self.marks.clear()
        await self.ws.drain()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    def counters(self) -> dict[str, int]:
        return {**self.counts, "marks_echoed": self.marks.echoed,
                "marks_stale": self.marks.stale, "marks_forgotten": self.marks.forgotten}

    def _bad(self, counter: str, what: str) -> None:
        self.counts[counter] += 1
        log.debug("ignored %s: %s", counter, what, extra=session_extra(self.session))
