"""The conversation history handed to a realtime model, and its replay as model items.

Mirrors `livekit.agents.llm.chat_context` (0.x) without images: a `ChatContext` is a list
of `ChatMessage`s; `ChatContext.to_realtime_items` turns it into the provider-neutral
conversation items (:data:`ipc.schema.ConversationItem`) that seed a session (and re-seed
it after a reconnect); the model stage's provider puts them in its own words.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from ipc.schema import (
    AudioPart,
    ContentPart,
    ConversationItem,
    FunctionCallItem,
    FunctionOutputItem,
    MessageItem,
    TextPart,
)
from pipeline.agents.llm.function_context import CalledFunction, FunctionCallInfo

ChatRole = Literal["system", "user", "assistant", "tool"]


@dataclass
class ChatAudio:
    """Audio content: 16-bit little-endian mono PCM at `sample_rate`.

    Only user audio can be replayed to a realtime model, and only at the session's input
    rate (24 kHz for OpenAI); assistant audio is dropped from the replay (the API refuses
    it), so keep the transcript as text alongside it.
    """

    frame: bytes
    sample_rate: int = 24000


ChatContent = str | ChatAudio


def new_item_id() -> str:
    """A fresh conversation item id (the OpenAI Realtime API allows up to 32 characters)."""
    return f"item_{secrets.token_hex(8)}"


@dataclass
class ChatMessage:
    """One conversation entry: a message, the model's tool calls, or a tool result."""

    role: ChatRole
    id: str | None = None
    name: str | None = None
    content: ChatContent | list[ChatContent] | None = None
    tool_calls: list[FunctionCallInfo] | None = None
    tool_call_id: str | None = None
    tool_exception: BaseException | None = None

    @staticmethod
    def create(*, text: str = "", role: ChatRole = "system", id: str | None = None) -> ChatMessage:
        """A text message; a new item id is made when `id` is None."""
        return ChatMessage(role=role, id=id or new_item_id(), content=text)

    @staticmethod
    def create_tool_calls(
        called_functions: list[FunctionCallInfo], *, text: str = ""
    ) -> ChatMessage:
        """The assistant message that made these tool calls."""
        return ChatMessage(
            role="assistant", id=new_item_id(), content=text, tool_calls=list(called_functions)
        )

    @staticmethod
    def create_tool_from_called_function(called_function: CalledFunction) -> ChatMessage:
        """The tool result message of a finished call (its error text if it raised)."""
        task = called_function.task
        if not task.done():
            raise ValueError("cannot create a tool result from a running ai function")
        exception: BaseException | None
        content: Any
        if task.cancelled():
            exception = asyncio.CancelledError()
            content = "Error: the function was cancelled"
        else:
            exception = task.exception()
            content = f"Error: {exception}" if exception is not None else task.result()
        call_info = called_function.call_info
        return ChatMessage(
            role="tool",
            id=new_item_id(),
            name=call_info.function_info.name,
            content=content,
            tool_call_id=call_info.tool_call_id,
            tool_exception=exception,
        )

    @property
    def text(self) -> str:
        """The text parts of the content, joined by newlines ("" when there are none)."""
        parts = self.content if isinstance(self.content, list) else [self.content]
        return "\n".join(part for part in parts if isinstance(part, str))

    def copy(self) -> ChatMessage:
        """A copy whose content and tool-call lists can be changed independently."""
        content = self.content.copy() if isinstance(self.content, list) else self.content
        tool_calls = None if self.tool_calls is None else self.tool_calls.copy()
        return ChatMessage(
            role=self.role,
            id=self.id,
            name=self.name,
            content=content,
            tool_calls=tool_calls,
            tool_call_id=self.tool_call_id,
            tool_exception=self.tool_exception,
        )


@dataclass
class ChatContext:
    """The conversation so far, oldest first."""

    messages: list[ChatMessage] = field(default_factory=list)

    def append(self, *, text: str = "", role: ChatRole = "system") -> ChatContext:
        """Add a text message; returns self so calls chain."""
        self.messages.append(ChatMessage.create(text=text, role=role))
        return self

    def copy(self) -> ChatContext:
        """A copy whose message list and messages can be changed independently."""
        return ChatContext(messages=[message.copy() for message in self.messages])

    def to_realtime_items(self) -> list[ConversationItem]:
        """The conversation items that recreate this conversation, in order.

        Text and user audio become message items, tool calls function-call items and
        tool results function-output items. Messages with nothing a model accepts
        (empty text, assistant audio) are left out.
        """
        items: list[ConversationItem] = []
        for message in self.messages:
            items.extend(message_items(message))
        return items


def message_items(message: ChatMessage) -> list[ConversationItem]:
    """The conversation items of one message (none if it has nothing a model takes)."""
    if message.role == "tool":
        return [FunctionOutputItem(item_id=message.id, call_id=message.tool_call_id or "",
                                   output=_tool_output(message.content))]
    items: list[ConversationItem] = []
    parts = _content_parts(message)
    if parts:
        items.append(MessageItem(item_id=message.id, role=message.role, content=parts))
    for call in message.tool_calls or ():
        items.append(FunctionCallItem(call_id=call.tool_call_id, name=call.function_info.name,
                                      arguments=call.raw_arguments))
    return items


def _content_parts(message: ChatMessage) -> tuple[ContentPart, ...]:
    content = message.content if isinstance(message.content, list) else [message.content]
    parts: list[ContentPart] = []
    for part in content:
        if isinstance(part, str) and part:
            parts.append(TextPart(part))
        elif isinstance(part, ChatAudio) and message.role == "user" and part.frame:
            parts.append(AudioPart(part.frame, part.sample_rate))
    return tuple(parts)


def _tool_output(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    try:
        return json.dumps(content)
    except (TypeError, ValueError):
        return str(content)
