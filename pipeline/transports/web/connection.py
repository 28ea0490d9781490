"""The WebRTC transport's edge half: one aiortc peer connection per call.

``open`` answers the caller's SDP offer (Opus only, ICE servers only from the spec:
an empty list means host candidates and nothing else — aiortc would otherwise ask a
public STUN server) and emits the answer as a ``WebAnswer`` session event for the
signalling handler. The caller's Opus packets are taken as they arrive and decoded on
this loop (``receiver.py``, ``opus.py``) into a queue; the agent's audio goes out through
an :class:`AgentTrack`, which encodes it here too. A data
channel labelled ``voxpipe`` (opened by the caller) carries the session record's
lines of the agent's notes as JSON text.

The call ends (``receive`` gives ``b""``) when the peer connection fails or closes,
the remote track ends, no media arrives for ``media_timeout_s`` once connected (a
dropped network sends no goodbye), or it never connects within ``connect_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from typing import Any, Final

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcdatachannel import RTCDataChannel
from aiortc.sdp import candidate_from_sdp

from ipc.schema import SessionConfig, WebAnswer, WebTransport
from pipeline.logs import session_extra
from pipeline.transports.base import AudioFormat, EdgeConnectionDefaults, EmitEvent
from pipeline.transports.web.audio import RATE, AgentTrack
from pipeline.transports.web.ice import host_addresses
from pipeline.transports.web.opus import OpusDecoder
from pipeline.transports.web.receiver import PacketsOnArrival, take_packets_on_arrival

log = logging.getLogger("voxpipe.edge.web")
# aioice narrates every candidate pair at INFO: the edge log keeps only its warnings.
logging.getLogger("aioice").setLevel(logging.WARNING)

DATA_CHANNEL: Final = "voxpipe"
CONNECT_TIMEOUT_S: Final = 30.0
MEDIA_TIMEOUT_S: Final = 3.0
WATCH_INTERVAL_S: Final = 0.25
# Notes kept for a data channel that is not open yet.
MAX_PENDING_LINES: Final = 256
# The caller's Opus decoded to mono s16 at 48 kHz, whatever the caller sent.
CALLER_FORMAT: Final = AudioFormat(RATE, 1)
_END: Final = b""


class WebConnection(EdgeConnectionDefaults):
    """One session's WebRTC peer connection (an ``EdgeConnection``)."""

    #: The peer connection lives in this process: an edge restart ends the call.
    reopenable = False

    def __init__(self, cfg: SessionConfig, emit: EmitEvent, *,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 media_timeout_s: float = MEDIA_TIMEOUT_S) -> None:
        if not isinstance(cfg.transport, WebTransport):
            raise TypeError(f"not a web transport: {cfg.transport!r}")
        self.spec = cfg.transport
        self.session = cfg.session
        self._emit = emit
        self.connect_timeout_s = connect_timeout_s
        self.media_timeout_s = media_timeout_s
        self.pc = RTCPeerConnection(RTCConfiguration(
            iceServers=[RTCIceServer(urls=u) for u in self.spec.ice_servers]))
        self.track = AgentTrack(cfg.t0_ns)
        self.channel: RTCDataChannel | None = None
        self.inbound: list[PacketsOnArrival] = []
        self._decoder = OpusDecoder()
        self.ended_reason = ""
        self.frames_in = 0
        self.lines_sent = 0
        self.lines_dropped = 0
        self._pending_lines: deque[str] = deque(maxlen=MAX_PENDING_LINES)
        self._inbound: asyncio.Queue[bytes] = asyncio.Queue()
        self._described = asyncio.Event()
        self._connected_at: float | None = None
        self._last_media = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: asyncio.Task[None] | None = None
        self.pc.on("connectionstatechange", self._on_state)
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_datachannel)

    # -- EdgeConnection ----------------------------------------------------------
    async def open(self) -> AudioFormat:
        """Answer the offer; the answer goes out as a ``WebAnswer`` event."""
        offer = RTCSessionDescription(sdp=self.spec.offer_sdp, type=self.spec.offer_type)
        await self.pc.setRemoteDescription(offer)
        self._described.set()
        opus = [c for c in RTCRtpSender.getCapabilities("audio").codecs
                if c.mimeType.lower() == "audio/opus"]
        audio = [t for t in self.pc.getTransceivers() if t.kind == "audio"]
        if not audio:
            raise ValueError("the offer has no audio")
        for transceiver in audio:
            transceiver.setCodecPreferences(opus)
            self.inbound.append(take_packets_on_arrival(transceiver.receiver,
                                                        self._on_payload))
        self.pc.addTrack(self.track)
        with host_addresses(self.spec.host_addresses):
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = self.pc.localDescription
        self._emit(WebAnswer(self.spec.pc_id, answer.sdp, answer.type))
        self._tasks.append(asyncio.create_task(self._watch(time.monotonic())))
        return CALLER_FORMAT

    async def receive(self) -> bytes:
        return await self._inbound.get()

    async def send(self, seq: int, sample_rate: int, pcm: bytes,
                   position: int | None = None) -> None:
        self.track.push(seq, sample_rate, pcm, position)

    async def flush(self) -> None:
        self.track.flush()

    def deliver(self, line: dict[str, Any]) -> None:
        text = json.dumps(line)
        if self.channel is not None and self.channel.readyState == "open":
            self._send_line(self.channel, text)
        else:
            if len(self._pending_lines) == self._pending_lines.maxlen:
                self.lines_dropped += 1
            self._pending_lines.append(text)

    async def add_candidate(self, candidate: str, sdp_mid: str | None,
                            sdp_mline_index: int | None) -> None:
        await self._described.wait()
        if not candidate:
            await self.pc.addIceCandidate(None)
            return
        ice = candidate_from_sdp(candidate.removeprefix("candidate:"))
        ice.sdpMid = sdp_mid
        ice.sdpMLineIndex = sdp_mline_index
        await self.pc.addIceCandidate(ice)

    def counters(self) -> dict[str, int]:
        late = sum(b.dropped_late for b in self.inbound)
        return {"frames_in": self.frames_in, "packets_late": late,
                "decode_errors": self._decoder.errors, "lines_sent": self.lines_sent,
                "lines_dropped": self.lines_dropped, **self.track.counters()}

    async def close(self) -> None:
        self._end("closed by the session")
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._closing is not None:
            await asyncio.shield(self._closing)

    # -- peer connection events --------------------------------------------------
    def _on_state(self) -> None:
        state = self.pc.connectionState
        log.info("peer connection %s", state, extra=session_extra(self.session))
        if state == "connected" and self._connected_at is None:
            self._connected_at = self._last_media = time.monotonic()
        elif state in ("failed", "closed"):
            self._end(f"peer connection {state}")

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio":
            return
        # Its frames come through ``_on_payload``; the track itself only says it ended.
        track.on("ended", lambda: self._end("the caller's track ended"))

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != DATA_CHANNEL or self.channel is not None:
            return
        self.channel = channel
        if channel.readyState == "open":
            self._drain_lines(channel)
        else:
            channel.on("open", lambda: self._drain_lines(channel))

    def _drain_lines(self, channel: RTCDataChannel) -> None:
        while self._pending_lines:
            self._send_line(channel, self._pending_lines.popleft())

    def _send_line(self, channel: RTCDataChannel, text: str) -> None:
        try:
            channel.send(text)
            self.lines_sent += 1
        except Exception:  # a channel closing under us: the line is lost, not the call
            self.lines_dropped += 1

    # -- the call's life ---------------------------------------------------------
    def _on_payload(self, payload: bytes, timestamp: int) -> None:
        """One Opus packet from the caller, decoded into the inbound queue (in arrival
        order: the edge places frames on the session timeline as they come)."""
        del timestamp
        if self.ended_reason:
            return
        self._last_media = time.monotonic()
        for pcm in self._decoder.decode(payload):
            self.frames_in += 1
            self._inbound.put_nowait(pcm)

    async def _watch(self, opened_at: float) -> None:
        """Ends a call that never connects, or whose media stopped (a dropped network)."""
        while not self.ended_reason:
            await asyncio.sleep(WATCH_INTERVAL_S)
            now = time.monotonic()
            if self._connected_at is None:
                if now - opened_at > self.connect_timeout_s:
                    self._end(f"not connected after {self.connect_timeout_s:g} s")
            elif now - self._last_media > self.media_timeout_s:
                self._end(f"no media for {self.media_timeout_s:g} s")

    def _end(self, reason: str) -> None:
        """The caller is gone: ``receive`` gives ``b""`` once what came before is read,
        and the peer connection closes (once, in its own task: a cancelled close would
        leave aiortc's waiting forever)."""
        if self.ended_reason:
            return
        self.ended_reason = reason
        log.info("call ended: %s", reason, extra=session_extra(self.session))
        self._inbound.put_nowait(_END)
        self._closing = asyncio.create_task(self._close_pc())

    async def _close_pc(self) -> None:
        self.track.stop()
        with contextlib.suppress(Exception):
            await self.pc.close()
