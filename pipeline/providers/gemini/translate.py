"""Gemini Live server messages -> neutral provider events (stateful: Gemini has no ids).

The API streams one model turn at a time with no response or item ids, and no
speech events: this makes the ids (one response and one audio item per model turn,
one user item per stretch of user transcript) and the turn's edges:

* the first part of a model turn (audio, text, its transcript or a tool call) opens a
  response; ``turnComplete`` closes it (``completed``), ``interrupted`` cuts it
  (``Interrupted``, then ``cancelled``); a tool call closes it too, so the agent runs
  the tools, and the model's continuation after the tool response is a new response;
* the user's transcript is one item from its first fragment until the model answers.
The translator outlives a connection: a resumed session goes on with the same ids.
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from dataclasses import dataclass, field

from pipeline.providers import base as pe
from pipeline.providers.gemini.wire import ServerContent, ServerMessage, ToolCall

log = logging.getLogger("voxpipe.model")


@dataclass
class _Reply:
    response_id: str
    item_id: str
    content: bool = False  # its audio/text part was announced
    transcript: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


@dataclass
class Translator:
    """One provider's view of the conversation's turns; ``modality`` "audio" or "text"."""

    modality: str = "audio"
    reply: _Reply | None = None
    user_item: str | None = None
    user_text: list[str] = field(default_factory=list)
    usage: tuple[int | None, int | None] = (None, None)
    call_names: dict[str, str] = field(default_factory=dict)  # call id -> function
    open_calls: set[str] = field(default_factory=set)  # calls not answered nor cancelled
    cancelled_calls: int = 0
    _prefix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def busy(self) -> bool:
        """A model turn is in progress."""
        return self.reply is not None

    def new_id(self, kind: str) -> str:
        return f"{kind}_{self._prefix}_{next(self._ids)}"

    def events(self, msg: ServerMessage) -> list[pe.ProviderEvent]:
        """The neutral events one server message means, in order."""
        out: list[pe.ProviderEvent] = []
        if msg.usage_metadata is not None:
            u = msg.usage_metadata
            self.usage = (u.prompt_token_count, u.response_token_count)
        if msg.server_content is not None:
            self._content(msg.server_content, out)
        if msg.tool_call is not None:
            self._tool_call(msg.tool_call, out)
        if msg.tool_call_cancellation is not None:
            # Nothing to undo: the agent runs tools only once the reply ends, and answers
            # to cancelled calls are ignored by the server.
            self.cancelled_calls += len(msg.tool_call_cancellation.ids)
            self.open_calls.difference_update(msg.tool_call_cancellation.ids)
            log.info("model cancelled function calls %s", msg.tool_call_cancellation.ids)
        return out

    def end(self, status: str, out: list[pe.ProviderEvent], reason: str | None = None) -> None:
        """Close the reply in progress (if any) with ``status``."""
        reply = self.reply
        if reply is None:
            return
        self.reply = None
        if reply.content and self.modality == "audio":
            out.append(pe.TranscriptDone(reply.item_id, 0, "".join(reply.transcript)))
            out.append(pe.AudioDone(reply.item_id, 0))
        elif reply.content:
            out.append(pe.TextDone(reply.item_id, "".join(reply.text)))
        prompt, completion = self.usage
        self.usage = (None, None)
        out.append(pe.ResponseDone(reply.response_id, status, reason, prompt, completion))

    # -- pieces ------------------------------------------------------------------
    def _user_done(self, out: list[pe.ProviderEvent]) -> None:
        if self.user_item is not None:
            out.append(pe.InputTranscriptCompleted(self.user_item, "".join(self.user_text)))
            self.user_item = None
            self.user_text = []

    def _open(self, out: list[pe.ProviderEvent], *, content: bool) -> _Reply:
        reply = self.reply
        if reply is None:
            self._user_done(out)
            reply = self.reply = _Reply(self.new_id("resp"), self.new_id("item"))
            out.append(pe.ResponseCreated(reply.response_id))
        if content and not reply.content:
            reply.content = True
            out.append(pe.ContentPartAdded(reply.item_id, 0, self.modality))
        return reply

    def _content(self, sc: ServerContent, out: list[pe.ProviderEvent]) -> None:
        heard = sc.input_transcription.text if sc.input_transcription else ""
        if heard:
            if self.user_item is None:
                self.user_item = self.new_id("user")
                out.append(pe.InputCommitted(self.user_item))
            self.user_text.append(heard)
            out.append(pe.InputTranscriptDelta(self.user_item, heard))
        parts = [p for p in (sc.model_turn.parts if sc.model_turn else []) if not p.thought]
        said = sc.output_transcription.text if sc.output_transcription else ""
        if parts or said:
            reply = self._open(out, content=True)
            for part in parts:
                if part.inline_data is not None and part.inline_data.data:
                    if self.modality == "audio":
                        out.append(pe.AudioDelta(reply.item_id, 0, part.inline_data.data))
                elif part.text:
                    reply.text.append(part.text)
            if said:
                reply.transcript.append(said)
                out.append(pe.TranscriptDelta(reply.item_id, 0, said))
        if sc.interrupted and self.reply is not None:
            out.append(pe.Interrupted(self.reply.response_id))
            self.end("cancelled", out, "turn_detected")
        if sc.turn_complete:
            self.end("completed", out)
            self._user_done(out)

    def _tool_call(self, call: ToolCall, out: list[pe.ProviderEvent]) -> None:
        reply = self._open(out, content=False)
        for fc in call.function_calls:
            call_id = fc.id or self.new_id("call")
            self.call_names[call_id] = fc.name
            self.open_calls.add(call_id)
            out.append(pe.FunctionCall(self.new_id("item"), call_id, fc.name,
                                       json.dumps(fc.args), reply.response_id))
        # The agent runs the tools when the reply ends; the model waits for the answers.
        self.end("completed", out)
