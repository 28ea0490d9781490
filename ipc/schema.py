"""Every message that crosses a process boundary in voxpipe.

Three unions, one per socket kind, each with one module-level encoder/decoder
pair (msgspec tagged unions, array-like so a 10 ms frame costs a few bytes of
header):

* ``DataMsg``    - PUSH/PULL data hops (audio and per-session stream events)
* ``ControlMsg`` - ROUTER/DEALER between the supervisor and each stage
* ``EventMsg``   - PUB/SUB from the stages to the supervisor's event bus

Audio rides embedded in the one msgpack frame: for 10 ms frames that measured
2.7x the throughput of ``[header, pcm]`` multipart on this machine
(PERF-ANCHORS.md), so one frame per message is also the validity rule: a
multipart message on a data socket is malformed.

Timestamps are ``time.monotonic_ns()`` (one clock for every process on a host).
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

# Bounds every receiver enforces (zmq MAXMSGSIZE is set from MAX_FRAME_BYTES).
MAX_FRAME_BYTES: Final = 512 * 1024
MAX_SESSION_ID_LEN: Final = 64
DEFAULT_MODEL_RATE: Final = 24000  # the Realtime API's pcm16 rate


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
    mono int16 at the output rate, ``seq`` = the playout clock's tick of this frame."""

    seq: int
    sample_rate: int
    pcm: bytes


class EdgeFlush(_Data, tag="efl", frozen=True):
    """Barge-in on an edge transport: drop the agent audio the connection still buffers."""

    reason: str


class StreamEvent(_Data, tag="se", frozen=True):
    """A session event that playout must place on the timeline (and log)."""

    kind: str
    data: dict[str, Any]
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
)


class TurnDetection(msgspec.Struct, frozen=True, gc=False, kw_only=True,
                    forbid_unknown_fields=True):
    """The model's own turn detection; ``None`` in the settings means manual commits.

    Validated on construction and on decode, so a bad start message cannot build it.
    """

    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"  # semantic_vad only

    def __post_init__(self) -> None:
        if self.type not in _TURN_TYPES:
            raise ValueError(f"TurnDetection.type must be one of {_TURN_TYPES}, got {self.type!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"TurnDetection.threshold must be in [0, 1], got {self.threshold!r}")
        if self.prefix_padding_ms < 0:
            raise ValueError(
                f"TurnDetection.prefix_padding_ms must be >= 0, got {self.prefix_padding_ms!r}")
        if self.silence_duration_ms <= 0:
            raise ValueError("TurnDetection.silence_duration_ms must be > 0, got "
                             f"{self.silence_duration_ms!r}")
        if self.eagerness not in _EAGERNESS:
            raise ValueError(
                f"TurnDetection.eagerness must be one of {_EAGERNESS}, got {self.eagerness!r}")


_TURN_TYPES: Final = ("server_vad", "semantic_vad")
_EAGERNESS: Final = ("low", "medium", "high", "auto")

Modality = Literal["audio", "text"]


class ToolSpec(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """A function the model may call; ``parameters`` is its JSON schema."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)


class SessionSettings(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """A model session's settings, in no provider's words. The model stage sends them
    at every connect; the agent sends them again (``UpdateSession``) only on a change."""

    instructions: str = ""
    voice: str = "alloy"
    modalities: tuple[Modality, ...] = ("audio",)
    temperature: float | None = None  # None: the provider's default (some have none)
    turn_detection: TurnDetection | None = msgspec.field(default_factory=TurnDetection)
    input_transcription_model: str | None = None  # None: no user transcript
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str = "auto"  # "auto" | "none" | "required" | a tool's name
    max_output_tokens: int | None = None  # None: the provider's maximum


class ModelSpec(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Which model a session talks to, and what it starts every connection with."""

    url: str = ""
    api_key: str = ""
    name: str = "gpt-realtime"
    protocol: str = ""  # the provider's wire dialect ("" = its default; OpenAI: ga | beta)
    # Reconnect before the provider's session time cap (0: never).
    max_session_s: float = 0.0
    settings: SessionSettings = msgspec.field(default_factory=SessionSettings)
class _Transport(msgspec.Struct, frozen=True, gc=False, tag_field="kind"):
    """Base of the transport specs: where a session's caller audio comes from and where
    the agent's goes. ``kind`` names the package that serves it
    (``pipeline.transports.<kind>``); the file transport is served by capture, every
    other kind by the edge stage."""


class FileTransport(_Transport, tag="file", frozen=True):
    """A WAV file plays the caller; the call's only output is the session record."""

    input_path: str
    input_rate: int
    input_channels: int
    input_frames: int
    realtime: bool = True  # paced on the timeline, or as fast as dsp takes it
    tail_silence_ms: int = 1500  # silence after the file: the line stays open


class LoopbackTransport(_Transport, tag="loopback", frozen=True):
    """A test peer on this host (tests/transports/loopback): a live connection both ways."""

    address: str  # "127.0.0.1:PORT" of the peer the edge stage connects to


Transport = FileTransport | LoopbackTransport


class SessionConfig(msgspec.Struct, frozen=True, gc=False):
    """Everything every stage needs to serve one session; sent at start and replayed
    to a restarted stage."""

    session: str
    t0_ns: int  # timeline origin; frame k of the input is due at t0 + k * frame
    out_dir: str  # the session record: events.jsonl, conversation.wav
    transport: Transport
    resume_frame: int = 0
    frame_ms: int = 10
    # The rate dsp resamples the caller to: the model's input_audio_sample_rate.
    model_rate: int = DEFAULT_MODEL_RATE
    chunk_ms: int = 100
    output_rate: int = 24000
    playout_frame_ms: int = 20
    # The model stage's provider module (pipeline/providers/registry.py) and its model.
    provider: str = "openai"
    model: ModelSpec = msgspec.field(default_factory=ModelSpec)
    # An agent (MultimodalAgent) drives this session from the supervisor: playout
    # reports playback progress so the agent can pace its transcript.
    agent: bool = False
    # Local VAD in dsp (barge-in before the model hears the user); 0 disables it.
    local_vad_min_speech_ms: int = 0
    local_vad_threshold_db: float = 0.0  # 0: the kernel's default


# -- model commands: what the agent asks of a session's model, in no provider's words --


class _Item(msgspec.Struct, frozen=True, gc=False, kw_only=True, tag_field="kind"):
    """Base of conversation items; ``item_id`` None lets the provider name it."""

    item_id: str | None = None


class TextPart(msgspec.Struct, frozen=True, gc=False, tag="text", tag_field="part"):
    text: str


class AudioPart(msgspec.Struct, frozen=True, gc=False, tag="audio", tag_field="part"):
    """Speech as mono int16 PCM (user messages only: models take no assistant audio)."""

    pcm: bytes
    sample_rate: int
    transcript: str | None = None


ContentPart = TextPart | AudioPart
MessageRole = Literal["user", "assistant", "system"]


class MessageItem(_Item, tag="message", frozen=True):
    """A user, assistant or system message: its text and (user) audio parts, in order."""

    role: MessageRole
    content: tuple[ContentPart, ...]

    def __post_init__(self) -> None:
        if self.role not in ("user", "assistant", "system"):
            raise ValueError(f"MessageItem.role must be user, assistant or system, "
                             f"got {self.role!r}")
        if self.role != "user" and any(isinstance(p, AudioPart) for p in self.content):
            raise ValueError(f"a {self.role} message cannot hold audio")


class FunctionCallItem(_Item, tag="function_call", frozen=True):
    """A call the model made (replayed with the context after a reconnect)."""

    call_id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


class FunctionOutputItem(_Item, tag="function_output", frozen=True):
    """A tool's answer to ``call_id``."""

    call_id: str
    output: str


ConversationItem = MessageItem | FunctionCallItem | FunctionOutputItem


class _Command(msgspec.Struct, frozen=True, gc=False, kw_only=True, tag_field="cmd"):
    """Base of model commands."""


class UpdateSession(_Command, tag="update_session", frozen=True):
    """Replace the session's settings (all of them: the provider sends what it needs)."""

    settings: SessionSettings


class CreateItem(_Command, tag="create_item", frozen=True):
    """Add ``item`` to the conversation, after ``previous_item_id`` ("root": first)."""

    item: ConversationItem
    previous_item_id: str | None = None


class DeleteItem(_Command, tag="delete_item", frozen=True):
    item_id: str


class CreateResponse(_Command, tag="create_response", frozen=True):
    """Ask the model to answer now; unset options fall back to the session's."""

    instructions: str | None = None
    modalities: tuple[Modality, ...] | None = None


class CancelResponse(_Command, tag="cancel_response", frozen=True):
    """Cancel ``response_id``, or the response in progress."""

    response_id: str | None = None


class CommitInput(_Command, tag="commit_input", frozen=True):
    """Make the buffered user audio a user turn (manual turns, no turn detection)."""


class ClearInput(_Command, tag="clear_input", frozen=True):
    """Drop the buffered, uncommitted user audio."""


class ToolResult(_Command, tag="tool_result", frozen=True):
    """Answer the model's function call ``call_id`` with ``output`` (JSON text)."""

    call_id: str
    output: str


class Truncate(_Command, tag="truncate", frozen=True):
    """Cut an assistant item's audio (and its transcript) at what was heard."""

    item_id: str
    content_index: int
    audio_end_ms: int


ModelCommand = (
    UpdateSession | CreateItem | DeleteItem | CreateResponse | CancelResponse | CommitInput
    | ClearInput | ToolResult | Truncate
)  # fmt: skip


class _Control(msgspec.Struct, frozen=True, gc=False, array_like=True, tag_field="t"):
    """Base of control messages (supervisor <-> stage)."""


class Hello(_Control, tag="hello", frozen=True):
    """A stage announcing itself (first message after every start)."""

    stage: str
    pid: int


class Ping(_Control, tag="ping", frozen=True):
    token: int
    sent_ns: int


class Pong(_Control, tag="pong", frozen=True):
    token: int
    sent_ns: int


class SessionStart(_Control, tag="start", frozen=True):
    config: SessionConfig
    resumed: bool = False  # replayed to a restarted stage: pick up mid-session


class SessionEnd(_Control, tag="end", frozen=True):
    session: str


class StatsRequest(_Control, tag="statsq", frozen=True):
    request_id: int


class StatsReply(_Control, tag="stats", frozen=True):
    request_id: int
    stage: str
    pid: int
    counters: dict[str, int]
    latency_us: dict[str, list[int]]


class Shutdown(_Control, tag="shutdown", frozen=True):
    """Stop gracefully: finish sessions' files, then exit 0."""


class ModelCommands(_Control, tag="mcmd", frozen=True):
    """Commands for a session's model connection, sent in order (agent -> model)."""

    session: str
    commands: list[ModelCommand]


class PlayoutInterrupt(_Control, tag="pint", frozen=True):
    """Stop the session's agent audio now (user code called ``interrupt()``)."""

    session: str
    reason: str
    item_id: str = ""  # the item being played, as the agent knows it (maybe not yet here)


class SessionNote(_Control, tag="note", frozen=True):
    """An event from the supervisor to place on the session timeline (events.jsonl)."""

    session: str
    kind: str
    data: dict[str, Any]


ControlMsg = (
    Hello
    | Ping
    | Pong
    | SessionStart
    | SessionEnd
    | StatsRequest
    | StatsReply
    | Shutdown
    | ModelCommands
    | PlayoutInterrupt
    | SessionNote
)


class StageEvent(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One event on the bus: what happened to a session, where, and when."""

    session: str
    stage: str
    kind: str
    t_ns: int
    data: dict[str, Any]


data_encoder: Final = msgspec.msgpack.Encoder()
data_decoder: Final = msgspec.msgpack.Decoder(DataMsg)
control_encoder: Final = msgspec.msgpack.Encoder()
control_decoder: Final = msgspec.msgpack.Decoder(ControlMsg)
event_encoder: Final = msgspec.msgpack.Encoder()
event_decoder: Final = msgspec.msgpack.Decoder(StageEvent)
