"""The provider seam: what the model stage needs of a realtime model, in no provider's words.

A provider is one package under ``pipeline/providers/<name>/`` whose module exposes
``create_provider() -> Provider`` (see :mod:`pipeline.providers.registry`). The model
stage opens one ``Provider`` per connection, sends it the session's settings at
connect, the agent's :data:`~ipc.schema.ModelCommand` s and the user's audio, and reads
the small typed events below. Whatever the provider's wire format, it stops here:
the stage, the supervisor and the agent API never see it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ipc.schema import ModelCommand, ModelSpec, TokenDetails


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider's model can do, as the seed's ``RealtimeCapabilities``.

    ``supports_truncate``: an interrupted reply can be cut at what was heard (else the
    item stays whole and only the reply is cancelled). ``input_audio_sample_rate``: the
    rate dsp resamples the caller to; ``output_sample_rate``: the rate of its audio.
    """

    supports_truncate: bool
    input_audio_sample_rate: int | None = None
    output_sample_rate: int = 24000


class ProviderConnectError(Exception):
    """The model could not be reached or refused the session; the message is one line.

    ``fatal``: retrying cannot help (a rejected key, settings the provider refuses).
    """

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


class ProviderClosed(Exception):
    """A send on a connection that is already closed."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"the model connection is closed (code {code}: {reason or 'no reason'})")
        self.code = code
        self.reason = reason


# -- the neutral event vocabulary -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The model heard the user start speaking (barge-in)."""

    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The model stopped its reply because the user spoke (its own turn detection,
    without a speech-start event: Gemini's ``interrupted``). Playout goes silent; the
    reply's ``ResponseDone`` follows."""

    response_id: str


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class InputCommitted:
    """The user's buffered audio became a conversation item."""

    item_id: str


@dataclass(frozen=True, slots=True)
class InputTranscriptDelta:
    item_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class InputTranscriptCompleted:
    item_id: str
    transcript: str


@dataclass(frozen=True, slots=True)
class InputTranscriptFailed:
    item_id: str
    message: str


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    response_id: str


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """A response ended: ``status`` completed, cancelled, incomplete or failed."""

    response_id: str
    status: str
    status_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    details: TokenDetails | None = None
    error_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class ContentPartAdded:
    """A response started a content part: ``part_type`` "audio" or "text"."""

    item_id: str
    content_index: int
    part_type: str


@dataclass(frozen=True, slots=True)
class AudioDelta:
    """Agent audio: int16 mono PCM at the provider's output rate."""

    item_id: str
    content_index: int
    pcm: bytes


@dataclass(frozen=True, slots=True)
class AudioDone:
    item_id: str
    content_index: int


@dataclass(frozen=True, slots=True)
class TranscriptDelta:
    """Text of the agent's audio, ahead of the audio itself."""

    item_id: str
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True)
class TranscriptDone:
    item_id: str
    content_index: int
    transcript: str


@dataclass(frozen=True, slots=True)
class TextDone:
    """A text-only answer part (no audio)."""

    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """The model calls a tool; ``arguments`` is JSON text."""

    item_id: str
    call_id: str
    name: str
    arguments: str
    response_id: str | None = None


@dataclass(frozen=True, slots=True)
class ItemCreated:
    """The model added an item to its conversation (acknowledging a create, or its own)."""

    item_id: str


@dataclass(frozen=True, slots=True)
class ItemDeleted:
    """The model removed an item from its conversation."""

    item_id: str


@dataclass(frozen=True, slots=True)
class ProviderError:
    """The model reports an error in the session (the connection stays up)."""

    message: str
    code: str | None = None
    event_id: str | None = None


ProviderEvent = (
    SpeechStarted | Interrupted | SpeechStopped | InputCommitted | InputTranscriptDelta
    | InputTranscriptCompleted | InputTranscriptFailed | ResponseCreated | ResponseDone
    | ContentPartAdded | AudioDelta | AudioDone | TranscriptDelta | TranscriptDone | TextDone
    | FunctionCall | ItemCreated | ItemDeleted | ProviderError
)  # fmt: skip


class Provider(Protocol):
    """One connection to a realtime model. :meth:`events` has a single consumer; sends
    may come from any task on the same loop."""

    @property
    def capabilities(self) -> Capabilities:
        """What this provider's model can do (known before :meth:`connect`)."""
        ...

    async def connect(self, spec: ModelSpec, *, input_rate: int, output_rate: int) -> None:
        """Open the connection to ``spec.url`` and set the session up with
        ``spec.settings`` (audio in at ``input_rate``, out at ``output_rate``).

        Raises :class:`ProviderConnectError` with a one-line message.
        """
        ...

    async def send(self, commands: Sequence[ModelCommand]) -> None:
        """Carry out the commands in order. Raises :class:`ProviderClosed` once closed,
        ``ValueError`` for a command the provider cannot express (nothing of it sent)."""
        ...

    async def append_audio(self, pcm: bytes) -> None:
        """Add user audio (int16 mono at the input rate). Raises :class:`ProviderClosed`."""
        ...

    def events(self) -> AsyncIterator[ProviderEvent]:
        """The model's events in arrival order; ends when the connection closes."""
        ...

    async def close(self) -> None:
        """Close the connection (normal closure); safe to call twice."""
        ...

    @property
    def close_code(self) -> int | None:
        """Why the connection ended (1000 normal, 1006 dropped ...); None while open."""
        ...

    @property
    def close_reason(self) -> str | None:
        ...


EventHandler = Callable[[ProviderEvent], None]


async def deliver_events(provider: Provider, handler: EventHandler) -> None:
    """Hand ``provider``'s events to ``handler`` in arrival order until the connection
    closes. A provider with ``push_events(handler)`` calls it from its socket's read
    callback (no task switch per event: the model stage runs hundreds of connections
    on one loop); any other is iterated (:meth:`Provider.events`)."""
    push: Callable[[EventHandler], Awaitable[None]] | None = getattr(
        provider, "push_events", None)
    if push is not None:
        await push(handler)
        return
    async for event in provider.events():
        handler(event)
