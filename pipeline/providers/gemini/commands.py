"""Neutral model commands -> Gemini Live client messages.

Gemini keeps the conversation itself and has no ids: items are added as turns of
``clientContent`` and cannot be removed or cut, a reply cannot be cancelled (the
server stops it when the user speaks), and after a tool response the model goes on
by itself, as after the end of a user's turn (``activityEnd``). So ``DeleteItem``,
``CancelResponse`` and ``ClearInput`` send nothing, a ``CreateResponse`` right after a
tool result or a committed turn is absorbed, and ``Truncate`` is
refused (the capabilities say ``supports_truncate=False``; nobody should send it).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, assert_never

from ipc.schema import (
    AudioPart,
    CancelResponse,
    ClearInput,
    CommitInput,
    ConversationItem,
    CreateItem,
    CreateResponse,
    DeleteItem,
    FunctionCallItem,
    FunctionOutputItem,
    MessageItem,
    ModelCommand,
    ToolResult,
    Truncate,
    UpdateSession,
)
from pipeline.providers.gemini import wire
from pipeline.providers.gemini.wire import Message

_ROLES = {"user": "user", "system": "user", "assistant": "model"}


@dataclass
class CommandTranslator:
    """The client messages for the agent's commands; ``call_names`` maps a call id to its
    function (a tool response must name it) and ``open_calls`` holds the calls not yet
    answered, both shared with the server-side translator."""

    call_names: dict[str, str]
    open_calls: set[str] = field(default_factory=set)  # answered ones leave it
    manual_turns: bool = False  # the server's activity detection is off
    activity_open: bool = False  # manual: an activityStart was sent, no activityEnd yet
    _answers_itself: bool = field(default=False, init=False)  # after a tool result/turn end

    def messages(self, cmd: ModelCommand) -> list[Message]:
        """The messages for one command (maybe none); ValueError if it cannot be said.
        ``UpdateSession`` is the provider's (a new setup): not handled here."""
        answers_itself, self._answers_itself = self._answers_itself, False
        if isinstance(cmd, CreateItem):
            return [wire.client_content([self.turn(cmd.item)], turn_complete=False)]
        if isinstance(cmd, CreateResponse):
            if answers_itself:
                return []  # the model answers a tool result or a user turn by itself
            turns = [] if cmd.instructions is None else [
                {"role": "user", "parts": [{"text": cmd.instructions}]}]
            return [wire.client_content(turns, turn_complete=True)]
        if isinstance(cmd, ToolResult):
            self._answers_itself = True
            self.open_calls.discard(cmd.call_id)
            name = self.call_names.get(cmd.call_id, "")
            return [wire.tool_response([wire.function_response(cmd.call_id, name, cmd.output)])]
        if isinstance(cmd, CommitInput):
            if not self.manual_turns or not self.activity_open:
                return []
            self.activity_open, self._answers_itself = False, True
            return [wire.activity(start=False)]
        if isinstance(cmd, DeleteItem | CancelResponse | ClearInput):
            return []
        if isinstance(cmd, Truncate):
            raise ValueError("Gemini Live cannot truncate a reply (supports_truncate=False)")
        if isinstance(cmd, UpdateSession):
            raise ValueError("UpdateSession is a new setup, not a client message")
        assert_never(cmd)

    def audio(self, pcm: bytes, rate: int) -> list[Message]:
        """The messages carrying one chunk of the user's audio."""
        msgs: list[Message] = []
        if self.manual_turns and not self.activity_open:
            self.activity_open = True
            msgs.append(wire.activity(start=True))
        msgs.append(wire.realtime_audio(pcm, rate))
        return msgs

    def turn(self, item: ConversationItem) -> Message:
        """The ``Content`` of a conversation item."""
        if isinstance(item, MessageItem):
            parts: list[Message] = []
            for part in item.content:
                if not isinstance(part, AudioPart):
                    parts.append({"text": part.text})
                elif part.transcript is not None:
                    parts.append({"text": part.transcript})
                else:
                    parts.append({"inlineData": {
                        "mimeType": wire.PCM_MIME.format(rate=part.sample_rate),
                        "data": base64.b64encode(part.pcm).decode("ascii")}})
            return {"role": _ROLES[item.role], "parts": parts}
        if isinstance(item, FunctionCallItem):
            self.call_names[item.call_id] = item.name
            return {"role": "model", "parts": [{"functionCall": {
                "id": item.call_id, "name": item.name, "args": _args(item.arguments)}}]}
        if isinstance(item, FunctionOutputItem):
            name = self.call_names.get(item.call_id, "")
            return {"role": "user", "parts": [{"functionResponse": wire.function_response(
                item.call_id, name, item.output)}]}
        assert_never(item)


def _args(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
