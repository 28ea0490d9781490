"""Model commands: what the agent asks of a session's model, in no provider's words."""

from __future__ import annotations

from typing import Literal

import msgspec

from ipc.schema.session import Modality, SessionSettings


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

