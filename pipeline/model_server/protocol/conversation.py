"""Conversation items: the server's copy of the dialogue, in order.

Items are kept in the GA vocabulary (content types `input_text`,
`input_audio`, `output_text`, `output_audio`); `dialect` renders them for GA
or beta clients. Audio is held as pcm16 arrays, so truncation is a slice and
only `conversation.item.retrieve` pays for base64.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import wire
from .wire import ProtocolError

MAX_ITEM_ID_CHARS = 32
"""The API's limit on a client-supplied item id."""

ROOT = "root"
"""`previous_item_id` value that inserts at the start of the conversation."""

_BETA_CONTENT_TYPES = {"text": "output_text", "audio": "output_audio"}
_CONTENT_TYPES_BY_ROLE = {
    "user": ("input_text", "input_audio", "input_image"),
    "assistant": ("output_text", "output_audio"),
    "system": ("input_text",),
}


@dataclass
class ContentPart:
    """One content part of a message item."""

    type: str
    text: str | None = None
    transcript: str | None = None
    audio: npt.NDArray[np.int16] | None = None
    image_url: str | None = None
    truncated: bool = False
    speech_span: tuple[int, int] | None = None
    """For VAD-committed user audio: [start, end) sample range the VAD heard as speech."""
    transcription: asyncio.Task[str] | None = None
    """For user audio: its decode, running or done; sets `transcript` when it ends."""


@dataclass
class Item:
    """One conversation item: a message, a function call or its output."""

    id: str
    type: str
    status: str = "completed"
    role: str | None = None
    content: list[ContentPart] = field(default_factory=list)
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None

    def text(self) -> str:
        """The item's words: texts and transcripts joined (empty if none)."""
        words = [p.text or p.transcript or "" for p in self.content]
        return " ".join(w for w in words if w)


def parse_content(role: str, raw: Any, where: str) -> ContentPart:
    """A client-supplied content part (GA or beta type names)."""
    if not isinstance(raw, dict):
        raise ProtocolError("invalid_type", f"Invalid type for '{where}': expected an object.",
                            where)
    ctype = wire.req_str(raw, "type", f"{where}.")
    if role == "assistant":
        ctype = _BETA_CONTENT_TYPES.get(ctype, ctype)
    wire.one_of(ctype, _CONTENT_TYPES_BY_ROLE[role], f"{where}.type")
    part = ContentPart(type=ctype)
    if ctype in ("input_text", "output_text"):
        part.text = wire.req_str(raw, "text", f"{where}.")
    elif ctype == "input_audio":
        pcm = wire.decode_pcm16(wire.req_str(raw, "audio", f"{where}."), f"{where}.audio")
        part.audio = np.frombuffer(pcm, dtype=np.int16)
        part.transcript = wire.opt_str(raw, "transcript", f"{where}.")
    elif ctype == "output_audio":
        b64 = wire.opt_str(raw, "audio", f"{where}.")
        if b64 is not None:
            part.audio = np.frombuffer(wire.decode_pcm16(b64, f"{where}.audio"), dtype=np.int16)
        part.transcript = wire.opt_str(raw, "transcript", f"{where}.")
    else:
        part.image_url = wire.req_str(raw, "image_url", f"{where}.")
    return part


def parse_item(raw: dict[str, Any], where: str = "item") -> Item:
    """A client-supplied item from `conversation.item.create` or `response.input`."""
    item_id = wire.opt_str(raw, "id", f"{where}.")
    if item_id is not None and not 0 < len(item_id) <= MAX_ITEM_ID_CHARS:
        raise ProtocolError(
            "invalid_value",
            f"Invalid '{where}.id': must be 1 to {MAX_ITEM_ID_CHARS} characters.",
            f"{where}.id",
        )
    itype = wire.one_of(
        wire.req_str(raw, "type", f"{where}."),
        ("message", "function_call", "function_call_output"),
        f"{where}.type",
    )
    item = Item(id=item_id or wire.new_id("item"), type=itype)
    if itype == "message":
        role = wire.one_of(
            wire.req_str(raw, "role", f"{where}."), ("user", "assistant", "system"), f"{where}.role"
        )
        contents = wire.opt_list(raw, "content", f"{where}.")
        if contents is None:
            raise ProtocolError("missing_required_parameter",
                                f"Missing required parameter: '{where}.content'.",
                                f"{where}.content")
        item.role = role
        item.content = [
            parse_content(role, c, f"{where}.content[{i}]") for i, c in enumerate(contents)
        ]
    elif itype == "function_call":
        item.name = wire.req_str(raw, "name", f"{where}.")
        item.arguments = wire.req_str(raw, "arguments", f"{where}.")
        item.call_id = wire.opt_str(raw, "call_id", f"{where}.") or wire.new_id("call")
    else:
        item.call_id = wire.req_str(raw, "call_id", f"{where}.")
        item.output = wire.req_str(raw, "output", f"{where}.")
    return item


class Conversation:
    """Ordered items with lookup by id; `previous_item_id` places an insert."""

    def __init__(self) -> None:
        self._order: list[str] = []
        self._items: dict[str, Item] = {}

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __len__(self) -> int:
        return len(self._order)

    def get(self, item_id: str) -> Item | None:
        """The item with `item_id`, or None."""
        return self._items.get(item_id)

    def items(self) -> list[Item]:
        """All items, oldest first."""
        return [self._items[i] for i in self._order]

    @property
    def last_id(self) -> str | None:
        """Id of the newest item, None when empty."""
        return self._order[-1] if self._order else None

    def insert(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert after `previous_item_id` (None: at the end, `root`: first).

        Returns the id of the item now before it (None at the start).
        """
        if item.id in self._items:
            raise ProtocolError(
                "invalid_value", f"Item with id '{item.id}' already exists.", "item.id"
            )
        if previous_item_id is None:
            index = len(self._order)
        elif previous_item_id == ROOT:
            index = 0
        elif previous_item_id in self._items:
            index = self._order.index(previous_item_id) + 1
        else:
            raise ProtocolError(
                "invalid_value",
                f"Previous item with id '{previous_item_id}' not found.",
                "previous_item_id",
            )
        self._order.insert(index, item.id)
        self._items[item.id] = item
        return self._order[index - 1] if index else None

    def delete(self, item_id: str) -> Item:
        """Remove and return the item; error if it does not exist."""
        item = self._items.pop(item_id, None)
        if item is None:
            raise item_not_found("conversation.item.delete", item_id)
        self._order.remove(item_id)
        return item


def item_not_found(event_type: str, item_id: str) -> ProtocolError:
    """The error for a client event naming an item the conversation lacks."""
    return ProtocolError(
        "item_not_found",
        f"Error in {event_type}: the item with id '{item_id}' does not exist.",
        "item_id",
    )
