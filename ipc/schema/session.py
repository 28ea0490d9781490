"""What a session is: its caller's transport, its model and the model's settings."""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

DEFAULT_MODEL_RATE: Final = 24000  # the Realtime API's pcm16 rate


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


class Sampling(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Sampling knobs some providers take (Gemini's ``generationConfig``); None: the
    provider's default. A provider that has no such knob ignores it."""

    candidate_count: int = 1
    top_p: float | None = None
    top_k: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None


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
    output_transcription: bool = True  # a transcript of the agent's audio (if optional)
    sampling: Sampling = msgspec.field(default_factory=Sampling)


class ModelSpec(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Which model a session talks to, and what it starts every connection with."""

    url: str = ""
    api_key: str = ""
    # How the key is sent: "authorization" (Authorization: Bearer KEY) or "api-key"
    # (api-key: KEY, as Azure OpenAI takes it).
    api_key_header: Literal["authorization", "api-key"] = "authorization"
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
    name: str = ""  # the call's name, its session's id ("": the runtime names it)


class LoopbackTransport(_Transport, tag="loopback", frozen=True):
    """A test peer on this host (tests/transports/loopback): a live connection both ways."""

    address: str  # "127.0.0.1:PORT" of the peer the edge stage connects to


class WebTransport(_Transport, tag="web", frozen=True):
    """A browser (or any WebRTC peer) on the line: the edge answers its SDP offer.

    ``ice_servers`` are STUN/TURN URLs for the edge's peer connection; empty means
    host candidates only (nothing leaves the machine without an explicit server).
    ``host_addresses`` are the local addresses its host candidates may use; empty means
    every interface but loopback (aiortc's own choice)."""

    pc_id: str  # the peer connection's id, as the HTTP signalling names it
    offer_sdp: str
    offer_type: str = "offer"
    ice_servers: tuple[str, ...] = ()
    host_addresses: tuple[str, ...] = ()


class LiveKitTransport(_Transport, tag="livekit", frozen=True):
    """A LiveKit room: the edge joins it with ``token`` (a participant token for ``url``,
    e.g. a worker's job assignment) and links one remote participant: the one named
    ``participant_identity``, else the first already in the room, else the next to
    join. ``room`` is the room's name, for logs (the token says which room it is)."""

    url: str
    token: str
    participant_identity: str | None = None
    room: str = ""


class SipTransport(_Transport, tag="sip", frozen=True):
    """A phone call: a SIP INVITE answered by ``voxpipe serve --sip``; its media is RTP
    (G.711, 20 ms) between the edge and the caller's ``remote_host:remote_port`` (from
    the offer's SDP). The edge binds ``local_host`` (port chosen by the OS) and tells the
    signalling which port in a ``RtpReady`` event; the SIP answer carries it.
    ``dtmf_payload_type`` 0: the caller offered no ``telephone-event``."""

    call_id: str  # the session's id (a SIP Call-ID may be any token: ``sip-<hex>`` here)
    remote_host: str
    remote_port: int
    local_host: str = "127.0.0.1"
    codec: str = "PCMU"  # "PCMU" (mu-law, payload type 0) or "PCMA" (A-law, 8)
    payload_type: int = 0
    dtmf_payload_type: int = 0
    ptime_ms: int = 20
    # No RTP for this long (and no BYE): the caller is gone and the session ends.
    media_timeout_s: float = 10.0


class JanusTransport(_Transport, tag="janus", frozen=True):
    """A Janus AudioBridge room: the edge joins ``room`` through Janus's HTTP API at
    ``url`` as a plain-RTP participant (G.711), hears the room's mix (which leaves its
    own voice out) and speaks into it."""

    url: str  # e.g. "http://127.0.0.1:8088/janus"
    room: int
    display: str = "voxpipe"
    pin: str = ""
    local_host: str = "127.0.0.1"
    name: str = ""  # the call's name ("": the runtime names it)


class TwilioTransport(_Transport, tag="twilio", frozen=True):
    """A Twilio-compatible media stream: a websocket accepted by ``voxpipe serve`` at
    ``/twilio`` and handed to the edge (``stream_id`` names the hand-off), carrying
    base64 mu-law 8 kHz both ways, with marks as the clock of what was played."""

    stream_id: str  # the session's id
    handoff_path: str = ""  # the edge's hand-off socket (unix), set by the server


Transport = (
    FileTransport | LoopbackTransport | WebTransport | LiveKitTransport | SipTransport
    | JanusTransport | TwilioTransport
)


def transport_kind(transport: Transport) -> str:
    """The transport's tag: the name of the package that serves it."""
    return str(type(transport).__struct_config__.tag)


def call_name(transport: Transport) -> str | None:
    """The id the signalling gave a live call (a WebRTC peer connection's ``pc_id``), or
    None: the call's session takes it as its id, so the HTTP API, the logs and the
    recording's folder share one name. A file call may be named too (``voxpipe run
    --sessions``: the copies' folders are their session ids)."""
    if isinstance(transport, FileTransport | JanusTransport):
        return transport.name or None
    if isinstance(transport, WebTransport):
        return transport.pc_id
    if isinstance(transport, SipTransport):
        return transport.call_id
    if isinstance(transport, TwilioTransport):
        return transport.stream_id
    return None


class SessionConfig(msgspec.Struct, frozen=True, gc=False):
    """Everything every stage needs to serve one session; sent at start and replayed
    to a restarted stage."""

    session: str
    t0_ns: int  # timeline origin; frame k of the input is due at t0 + k * frame
    out_dir: str  # the session record: events.jsonl, conversation.wav
    transport: Transport
    resume_frame: int = 0
    frame_ms: int = 20
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
    # The worker serving this session in each sharded stage (ipc/shards.py): stage ->
    # index, chosen by the supervisor at start; a stage absent here has one worker.
    workers: dict[str, int] = msgspec.field(default_factory=dict)

