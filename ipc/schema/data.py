"""Data-hop messages (PUSH/PULL between stages): audio and per-session stream events.

Audio rides embedded in the one msgpack frame: for 10 ms frames that measured
2.7x the throughput of ``[header, pcm]`` multipart on this machine
(PERF-ANCHORS.md), so one frame per message is also the validity rule: a
multipart message on a data socket is malformed.
"""

from __future__ import annotations

from typing import Final

import msgspec

from ipc.schema.events import SessionEvent

# Bounds every receiver enforces (zmq MAXMSGSIZE is set from MAX_FRAME_BYTES).
MAX_FRAME_BYTES: Final = 512 * 1024
MAX_SESSION_ID_LEN: Final = 64


class _Data(msgspec.Struct, frozen=True, gc=False, array_like=True, tag_field="t"):
    """Base of data-hop messages; every one belongs to a session."""

    session: str


class CaptureFrame(_Data, tag="cf", frozen=True):
    """A transport frame as captured: interleaved int16 at the source rate."""

    seq: int
    sample_rate: int
    channels: int
    pcm: bytes
    capture_ns: int


class UserAudio(_Data, tag="ua", frozen=True):
    """A chunk of user audio after dsp: mono int16 at the model's input rate."""

    seq: int
    sample_rate: int
    pcm: bytes
    capture_ns: int  # capture stamp of the first frame in this chunk
    dsp_ns: int  # when dsp sent it
    position: int  # sample index of the first sample on the session timeline


class AgentAudio(_Data, tag="aa", frozen=True):
    """A slice of an agent response's audio: mono int16 at the output rate."""

    item_id: str
    content_index: int
    seq: int
    sample_rate: int
    pcm: bytes
    model_rx_ns: int  # when the model stage received it from the websocket


class AgentText(_Data, tag="at", frozen=True):
    """A transcript delta for the agent's audio item."""

    item_id: str
    content_index: int
    delta: str


class AgentItemDone(_Data, tag="ad", frozen=True):
    """No more audio will come for this item (completed, cancelled or failed)."""

    item_id: str
    interrupted: bool


class PlayoutFlush(_Data, tag="pf", frozen=True):
    """Barge-in: drop everything buffered for the session and report what played."""

    reason: str
    onset_ns: int


class TruncatePoint(_Data, tag="tp", frozen=True):
    """Playout's answer to a flush: how much of the item actually played."""

    item_id: str
    content_index: int
    played_samples: int
    received_samples: int
    sample_rate: int
    reason: str = "speech_started"  # the flush's reason: the model cancels itself only then


class EdgeFrame(_Data, tag="ef", frozen=True):
    """One paced frame of agent audio for an edge transport's connection (playout -> edge):
    mono int16 at the output rate. ``seq`` numbers the frames: +1 from a frame to the one
    that follows it on the timeline, a jump where playout sent nothing between them (a
    new talk spurt); ``position`` is the session timeline's output sample where it starts
    (a reply starting on arrival puts frames off the grid of 20 ms from the origin)."""

    seq: int
    sample_rate: int
    pcm: bytes
    position: int


class EdgeFlush(_Data, tag="efl", frozen=True):
    """Barge-in on an edge transport: drop the agent audio the connection still buffers."""

    reason: str


class EdgeHeard(_Data, tag="eh", frozen=True):
    """What the caller has really heard (edge -> playout), from a far end that buffers
    the agent's audio and acknowledges what it played (a media stream's echoed marks):
    every agent frame up to playout tick ``seq`` has played. Playout then counts an
    item's played audio (truncation, transcript release) by this, not by its pacing."""

    seq: int


class StreamEvent(_Data, tag="se", frozen=True):
    """A session event that playout must place on the timeline (and log)."""

    event: SessionEvent
    stage_ns: int
    publish: bool = True  # False: the sender published it on the bus itself; only log it


DataMsg = (
    CaptureFrame
    | UserAudio
    | AgentAudio
    | AgentText
    | AgentItemDone
    | PlayoutFlush
    | TruncatePoint
    | StreamEvent
    | EdgeFrame
    | EdgeFlush
    | EdgeHeard
)



data_encoder: Final = msgspec.msgpack.Encoder()
data_decoder: Final = msgspec.msgpack.Decoder(DataMsg)
