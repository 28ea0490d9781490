"""Session events: what happened to a session, one frozen struct per kind.

Stages emit them, playout places them on the session timeline (``events.jsonl``)
and the supervisor's bus carries them (``StageEvent``) to the session state, the
agent and the CLI, which dispatch on their type. The tag of each struct is the
event's ``type`` in ``events.jsonl``; this module is the only place those names are
written, so a kind is renamed here or nowhere.

Events are maps, not arrays, on the wire: an event is also a line of the session
record, and a few per second per session cost nothing next to the audio.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec


class _Event(msgspec.Struct, frozen=True, gc=False, tag_field="type"):
    """Base of session events; ``type`` (the tag) names the kind."""


_TAG_FIELD: Final = "type"


# -- the caller's input (capture for files, edge for live connections) ------------------


class InputProgress(_Event, tag="input_progress", frozen=True):
    """Bus only: input frames sent so far (a restarted capture resumes there)."""

    frame: int


class InputEnded(_Event, tag="input_ended", frozen=True):
    """The caller's audio is over (end of file, or the connection closed)."""

    frames: int


class SessionError(_Event, tag="error", frozen=True, omit_defaults=True):
    """A stage could not serve the session; ``fatal`` ends it. The model link's
    carry ``source`` "model" and its ``link``; a stage's own leave both out."""

    fatal: bool
    message: str
    source: str = ""
    link: str = ""


class WebAnswer(_Event, tag="web_answer", frozen=True):
    """Bus only: the edge's SDP answer to a ``WebTransport`` offer, for the signalling
    handler that waits on the session to reply to the browser. ``sdp_type`` is the
    answer's RTCSessionDescription type ("answer"; ``type`` is every event's kind)."""

    pc_id: str
    sdp: str
    sdp_type: str


class RtpReady(_Event, tag="rtp_ready", frozen=True):
    """Bus only: the edge bound a ``SipTransport`` call's RTP socket at ``host:port``,
    for the SIP signalling to put in its answer's SDP."""

    call_id: str
    host: str
    port: int


class DtmfReceived(_Event, tag="dtmf_received", frozen=True):
    """The caller pressed a key: an RFC 4733 telephone-event (SIP/RTP, Janus) or a
    media stream's ``dtmf`` message. ``digit`` is one of 0-9 * # A-D; ``code`` its
    event number (0-15); ``duration_ms`` as the sender reported it (0: not reported)."""

    digit: str
    code: int
    duration_ms: int = 0


# -- dsp's local VAD ---------------------------------------------------------------------


class _LocalSpeech(_Event, frozen=True):
    sample: int  # on the session's model-rate input timeline
    onset_ns: int  # monotonic clock


class LocalSpeechStarted(_LocalSpeech, tag="local_speech_started", frozen=True):
    """dsp heard the caller start (it flushed playout already: barge-in)."""


class LocalSpeechStopped(_LocalSpeech, tag="local_speech_stopped", frozen=True):
    """dsp heard the caller stop."""


class ParticipantLinked(_Event, tag="participant_linked", frozen=True):
    """Bus only: the room participant the edge linked to the session (a LiveKit room's),
    whose microphone is the session's input; the agent's room shows it."""

    identity: str


class ParticipantLeft(_Event, tag="participant_left", frozen=True):
    """Bus only: the linked participant left the room (or the room closed): its input
    ends with it."""

    identity: str
    reason: str


# -- the model link ----------------------------------------------------------------------


class ModelEvent(_Event, frozen=True, kw_only=True):
    """Base of the model link's events. ``link`` ("pid.n": the model stage and its
    n-th connection) lets the supervisor drop an event of a link that is gone: a
    link's events reach it by two roads (straight, or placed on the timeline)."""

    link: str = ""


class ModelConnected(ModelEvent, tag="model_connected", frozen=True):
    url: str


class ModelDisconnected(ModelEvent, tag="model_disconnected", frozen=True):
    code: int | None
    reason: str | None
    recycled: bool  # closed on purpose before the provider's session time cap


class UserStartedSpeaking(ModelEvent, tag="user_started_speaking", frozen=True):
    item_id: str
    audio_start_ms: int


class UserStoppedSpeaking(ModelEvent, tag="user_stopped_speaking", frozen=True):
    """The user's turn ended; ``audio_end_ms`` None: the provider did not say where
    (the turn then ends at the event's place on the timeline)."""

    item_id: str
    audio_end_ms: int | None


class UserSpeechCommitted(ModelEvent, tag="user_speech_committed", frozen=True):
    item_id: str


class UserTranscript(ModelEvent, tag="user_transcript", frozen=True):
    """The user's words: a delta (``final`` False) or the turn's whole transcript."""

    item_id: str
    text: str
    final: bool


class UserTranscriptFailed(ModelEvent, tag="user_transcript_failed", frozen=True):
    item_id: str
    message: str


class ResponseCreated(ModelEvent, tag="response_created", frozen=True):
    response_id: str


class ResponseContentAdded(ModelEvent, tag="response_content_added", frozen=True):
    item_id: str
    content_index: int
    content_type: str  # "audio" | "text"


class AgentTranscriptDelta(ModelEvent, tag="agent_transcript_delta", frozen=True):
    """A transcript delta, released once its audio arrived: ``position`` (samples of
    the item received by then) is the earliest its word can be heard."""

    item_id: str
    content_index: int
    delta: str
    position: int


class AgentTranscript(ModelEvent, tag="agent_transcript", frozen=True):
    item_id: str
    text: str


class AgentTextReply(ModelEvent, tag="agent_text", frozen=True):
    """A text-only answer (no audio): the agent layer decides how to recover."""

    item_id: str
    text: str


class FunctionCallRequested(ModelEvent, tag="function_call", frozen=True):
    item_id: str
    call_id: str
    name: str
    arguments: str  # JSON text, as the model wrote it
    response_id: str | None


class TokenDetails(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """A response's token usage by kind, as the model reported it (None: not reported)."""

    input_text: int | None = None
    input_audio: int | None = None
    input_cached: int | None = None
    input_cached_text: int | None = None
    input_cached_audio: int | None = None
    output_text: int | None = None
    output_audio: int | None = None


class ResponseDone(ModelEvent, tag="response_done", frozen=True):
    """A response ended: ``status`` completed, cancelled, incomplete or failed (then
    ``error_*`` say why, as the model put it)."""

    response_id: str
    status: str
    reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    details: TokenDetails | None = None
    error_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class ModelError(ModelEvent, tag="model_error", frozen=True):
    """The model refused something; the session goes on."""

    code: str | None
    message: str
    event_id: str | None


class ConversationItemAcked(ModelEvent, tag="conversation_item_acked", frozen=True):
    """The model created (``created``) or deleted an item the agent asked it to."""

    item_id: str
    created: bool


class AgentItemDeleted(ModelEvent, tag="agent_item_deleted", frozen=True):
    """Nothing of an interrupted item was heard: the model forgets it."""

    item_id: str


class AgentItemTruncated(ModelEvent, tag="agent_item_truncated", frozen=True):
    """An interrupted item is cut where its audio stopped playing."""

    item_id: str
    audio_end_ms: int


# -- playout -----------------------------------------------------------------------------


class _SessionOpened(_Event, frozen=True):
    t0_ns: int
    pid: int  # the playout process (a new one after a restart)


class SessionStarted(_SessionOpened, tag="session_started", frozen=True):
    pass


class SessionResumed(_SessionOpened, tag="session_resumed", frozen=True):
    """A restarted playout picked the session up mid-call."""


class SessionClosed(_Event, tag="session_closed", frozen=True):
    """The session record is complete: the last event of a session."""

    wav: str
    frames: int
    duration_s: float


class AgentStartedSpeaking(_Event, tag="agent_started_speaking", frozen=True):
    item_id: str
    position: int  # output samples on the session timeline
    rx_to_play_ms: float


class AgentStoppedSpeaking(_Event, tag="agent_stopped_speaking", frozen=True):
    """An item's audio stopped playing: done, or cut (``interrupted``) at ``played_ms``;
    ``text`` is the transcript of what played."""

    item_id: str
    interrupted: bool
    played_ms: float
    received_ms: float
    played_samples: int
    text: str


class AgentPlayoutProgress(_Event, tag="agent_playout_progress", frozen=True):
    """Bus only: samples of a playing item heard so far (the agent paces its transcript)."""

    item_id: str
    played: int


#: Why agent audio that should have played did not (``PlayoutGlitch.cause``): "underrun":
#: an item was mid-stream and its audio had not arrived; "late": playout fell behind its
#: clock (starved or stopped) and skipped the frames it missed.
GLITCH_CAUSES: Final = ("underrun", "late")


class PlayoutGlitch(_Event, tag="playout_glitch", frozen=True):
    """A gap of ``samples`` output samples (``frames`` playout frames, a partial frame
    counting as one), from output sample ``position``, inside the agent's audio of item
    ``item_id``: silence played where its audio should have, and its audio went on
    after. One event per gap, however long."""

    cause: str
    frames: int
    position: int
    item_id: str
    samples: int = 0


# -- the agent layer (notes from the supervisor) ----------------------------------------


class ModelContextReplayed(_Event, tag="model_context_replayed", frozen=True):
    items: int
    pending: int


class ParticipantAttributes(_Event, tag="participant_attributes", frozen=True):
    attributes: dict[str, str]


class Transcription(_Event, tag="transcription", frozen=True):
    """A transcription the agent published for ``participant``."""

    participant: str
    segment_id: str
    text: str
    final: bool


class AgentTranscription(_Event, tag="agent_transcription", frozen=True):
    segment_id: str
    item_id: str
    text: str
    final: bool
    released_words: int


class UserTranscription(_Event, tag="user_transcription", frozen=True):
    text: str
    final: bool


SessionEvent = (
    InputProgress | InputEnded | SessionError | LocalSpeechStarted | LocalSpeechStopped
    | ModelConnected | ModelDisconnected | UserStartedSpeaking | UserStoppedSpeaking
    | UserSpeechCommitted | UserTranscript | UserTranscriptFailed | ResponseCreated
    | ResponseContentAdded | AgentTranscriptDelta | AgentTranscript | AgentTextReply
    | FunctionCallRequested | ResponseDone | ModelError | ConversationItemAcked
    | AgentItemDeleted
    | AgentItemTruncated | SessionStarted | SessionResumed | SessionClosed
    | AgentStartedSpeaking | AgentStoppedSpeaking | AgentPlayoutProgress | PlayoutGlitch
    | ModelContextReplayed | ParticipantAttributes | Transcription | AgentTranscription
    | UserTranscription | WebAnswer | ParticipantLinked | ParticipantLeft | RtpReady
    | DtmfReceived
)  # fmt: skip


class StageEvent(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One event on the bus: what happened to a session, where, and when.

    ``t_ms`` (its place on the session timeline) and ``origin`` (who it came from:
    playout, model or agent) are set on the events playout logged; an event a stage
    published itself has neither."""

    session: str
    stage: str
    t_ns: int
    event: SessionEvent
    t_ms: float | None = None
    origin: str = ""


def event_kind(event: SessionEvent) -> str:
    """The event's kind, as ``events.jsonl`` names it (for logs; dispatch on the type)."""
    return str(type(event).__struct_config__.tag)


def record_line(session: str, event: SessionEvent, t_ms: float,
                origin: str) -> dict[str, Any]:
    """The event as a line of ``events.jsonl``: t_ms, session, type, origin, its fields."""
    fields = msgspec.to_builtins(event)
    kind = fields.pop(_TAG_FIELD)
    return {"t_ms": t_ms, "session": session, _TAG_FIELD: kind, "origin": origin, **fields}


event_encoder: Final = msgspec.msgpack.Encoder()
event_decoder: Final = msgspec.msgpack.Decoder(StageEvent)
