"""What a transport gives the stages: caller audio in, agent audio out.

A transport is one package, ``pipeline/transports/<kind>/``, holding its stage half
and its agent half (the ``Room``), plus one arm of the ``Transport`` union in
``ipc/schema.py``. Which process serves it:

* the file transport is read by **capture**, which paces a :class:`Source`;
* every other transport is a live connection (one socket both ways, asyncio
  libraries) owned by the **edge** stage through an :class:`EdgeConnection`.

**playout** keeps the clock, queue, played-sample accounting and the session record
for every transport, and hands each paced agent frame to the session's :class:`Sink`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ipc.schema import FileTransport, SessionConfig, SessionEvent, Transport, TwilioTransport


@dataclass(frozen=True)
class AudioFormat:
    """Interleaved int16 at ``sample_rate`` with ``channels`` channels."""

    sample_rate: int
    channels: int


class Source(Protocol):
    """Ingress of one session that capture paces: the caller's audio as frames of
    interleaved int16 at the source rate, addressable by frame number."""

    @property
    def format(self) -> AudioFormat: ...

    @property
    def total_frames(self) -> int:
        """Frames this source gives (any tail of silence included)."""
        ...

    def frame(self, seq: int) -> bytes:
        """Frame ``seq`` (silence past the audio), one frame long exactly."""
        ...

    def close(self) -> None: ...


class Sink(Protocol):
    """Egress of one session: the agent's frames, handed over as playout plays them."""

    #: True when a frame is heard as the session timeline reaches each of its samples
    #: (a file call: the record is the output), so a barge-in mid-frame silences the
    #: rest of it; False when the far end buffers whole frames and its flush decides.
    heard_on_timeline: bool

    def write(self, seq: int, position: int, pcm: bytes | bytearray | memoryview) -> None:
        """Frame ``seq`` (consecutive numbers: contiguous frames), starting at output
        sample ``position`` of the session timeline: mono int16 at the session's output
        rate (a buffer playout reuses: copy what must outlive the call)."""
        ...

    def flush(self, reason: str) -> None:
        """Barge-in: whatever the far end still buffers must not be heard."""
        ...

    def close(self) -> None: ...


class EdgeConnection(Protocol):
    """One session's live connection, owned by the edge stage's event loop.

    The edge builds it with the session's config and an ``emit`` callback (events the
    connection has for the session, e.g. a WebRTC answer), opens it when the session
    starts (and again after an edge restart), reads the caller's audio until
    :meth:`receive` returns ``b""``, and writes every agent frame playout sends for
    the session. :class:`EdgeConnectionDefaults` gives the optional parts.
    """

    async def open(self) -> AudioFormat:
        """Connect (signalling, handshake); the format of the caller's audio."""
        ...

    async def receive(self) -> bytes:
        """The next chunk of caller audio (whole int16 samples, any length);
        ``b""`` once the far end has closed its sending side."""
        ...

    async def send(self, seq: int, sample_rate: int, pcm: bytes,
                   position: int | None = None) -> None:
        """One paced agent frame, mono int16: ``seq`` +1 from the frame before while the
        audio is contiguous (a jump: a new talk spurt); ``position``, where it starts on
        the session timeline in samples (None: ``seq`` frames from the origin)."""
        ...

    async def flush(self) -> None:
        """Drop agent audio the connection still buffers (barge-in)."""
        ...

    async def close(self) -> None: ...

    #: False for a connection that dies with the edge process (a WebRTC peer): after
    #: an edge restart its session's input ends instead of reopening it.
    reopenable: bool

    #: How long :meth:`open` may take before the call fails (a room server's join
    #: takes longer than a socket's connect).
    open_timeout_s: float

    def deliver(self, line: dict[str, Any]) -> None:
        """A line of the session record (``ipc.schema.record_line``) for the caller's
        side channel (transcripts, agent state); dropped by connections without one."""
        ...

    async def add_candidate(self, candidate: str, sdp_mid: str | None,
                            sdp_mline_index: int | None) -> None:
        """A trickled ICE candidate from the caller's signalling (WebRTC only)."""
        ...

    def counters(self) -> dict[str, int]:
        """What the connection counted (added to the edge's stats, ``conn.<name>``, when
        the session ends)."""
        ...

    def report_heard(self, report: ReportHeard) -> None:
        """Where to say what the caller has really heard, for a far end that buffers the
        agent's audio and acknowledges what it played (a media stream's echoed marks):
        ``report(seq)`` once every frame up to playout tick ``seq`` has played. Ignored
        by connections whose far end plays what it gets as it gets it."""
        ...


class EdgeConnectionDefaults:
    """The optional parts of an :class:`EdgeConnection`, for connections that have no
    side channel and no trickled signalling (both are ignored), which the far end
    can reconnect after an edge restart."""

    reopenable: bool = True
    open_timeout_s: float = 5.0

    def deliver(self, line: dict[str, Any]) -> None:
        pass

    async def add_candidate(self, candidate: str, sdp_mid: str | None,
                            sdp_mline_index: int | None) -> None:
        pass

    def counters(self) -> dict[str, int]:
        return {}

    def report_heard(self, report: ReportHeard) -> None:
        pass


#: How a connection reports an event of its session (published on the bus).
EmitEvent = Callable[[SessionEvent], None]

#: How a connection says the caller has heard every agent frame up to a playout tick.
ReportHeard = Callable[[int], None]

#: What a live transport's package exports as ``edge_connection``: built with the
#: session's config and its ``emit``.
EdgeConnector = Callable[[SessionConfig, EmitEvent], EdgeConnection]


def served_by_capture(transport: Transport) -> bool:
    """True for the file transport; every other kind is the edge stage's."""
    return isinstance(transport, FileTransport)


def acknowledges_playback(transport: Transport) -> bool:
    """True for a far end that buffers the agent's audio and says what it has played
    (a media stream's echoed marks, reported as ``EdgeHeard``): playout counts what
    was heard by that, not by its own pacing."""
    return isinstance(transport, TwilioTransport)
