"""The edge's membership of one AudioBridge room: the Janus side of a ``JanusConnection``.

``join`` creates a Janus session over the HTTP API, attaches the AudioBridge and
joins the room as a plain-RTP participant whose mix goes to the edge's RTP socket;
it returns Janus's RTP address (where the agent's voice goes). The session's
long-poll keeps it alive and brings the plugin's news: the room destroyed, the
participant kicked, the handle detached, Janus gone — each ends the membership once
(``on_end`` with the reason), which ends the session's input. ``leave`` hangs up in
order (leave the room, detach, destroy the session), each step best-effort: a Janus
that is already gone must not keep the call from closing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from ipc.schema import JanusTransport
from pipeline.logs import session_extra
from pipeline.transports.janus.api import JanusError, JanusSession
from pipeline.transports.janus.audiobridge import AudioBridge, RtpJoin

log = logging.getLogger("voxpipe.edge.janus")


class RoomMembership:
    """The agent's place in ``spec.room`` while the session lasts."""

    def __init__(self, spec: JanusTransport, session: str,
                 on_end: Callable[[str], None]) -> None:
        self.spec = spec
        self.session = session
        self.on_end = on_end
        self.joined: RtpJoin | None = None
        self.ended: str | None = None
        self.hangup_errors = 0
        self._http: aiohttp.ClientSession | None = None
        self._janus: JanusSession | None = None
        self._bridge: AudioBridge | None = None

    async def join(self, rtp_host: str, rtp_port: int) -> RtpJoin:
        """Join the room with the mix sent to ``rtp_host:rtp_port``; Janus's RTP address.
        Raises ``JanusError`` (refused) or ``aiohttp.ClientError``/``OSError``
        (unreachable); what was set up before the failure is undone."""
        self._http = aiohttp.ClientSession()
        try:
            self._janus = JanusSession(self.spec.url, self._http)
            await self._janus.open()
            self._bridge = await AudioBridge.attach(self._janus)
            self._bridge.handle.on_event = self._plugin_event
            self._bridge.handle.on_gone = self._end
            self.joined = await self._bridge.join_rtp(
                self.spec.room, rtp_host, rtp_port, display=self.spec.display,
                pin=self.spec.pin)
        except BaseException:
            await self.leave()
            raise
        log.info("joined janus room %d at %s as participant %d (display %r); janus rtp "
                 "at %s:%d", self.spec.room, self.spec.url, self.joined.participant_id,
                 self.spec.display, self.joined.host, self.joined.port,
                 extra=session_extra(self.session))
        return self.joined

    def _plugin_event(self, data: dict[str, object]) -> None:
        assert self._bridge is not None
        reason = self._bridge.removed_by(data)
        if reason is not None:
            self._end(reason)

    def _end(self, reason: str) -> None:
        if self.ended is None:
            self.ended = reason
            self.on_end(reason)

    async def leave(self) -> None:
        """Leave the room, detach, destroy the session, close the HTTP client."""
        if self.ended is None:
            self.ended = "left"
        steps: list[Callable[[], Awaitable[None]]] = []
        if self._bridge is not None:
            steps += [self._bridge.leave, self._bridge.handle.detach]
        if self._janus is not None:
            steps.append(self._janus.destroy)  # kept: its counters outlive it
        for step in steps:
            try:
                await step()
            except (JanusError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.hangup_errors += 1
                log.debug("janus hangup step %s failed: %s", step.__name__, exc,
                          extra=session_extra(self.session))
        self._bridge = None
        if self._http is not None:
            with contextlib.suppress(Exception):
                await self._http.close()
            self._http = None

    def counters(self) -> dict[str, int]:
        janus = self._janus
        return {"janus_hangup_errors": self.hangup_errors,
                "janus_poll_failures": janus.poll_failures if janus else 0,
                "janus_events": janus.events if janus else 0}
