"""What the model says, for playout and the timeline: one session's replies in flight.

The model link feeds it the provider's neutral events; it forwards agent audio to
playout in slices, releases transcript deltas once their audio has arrived, ends
items (interrupted or not), and keeps what the link needs to truncate an item:
the samples received per item and the response in progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ipc.schema import (
    AgentAudio,
    AgentItemDone,
    AgentText,
    AgentTextReply,
    AgentTranscript,
    AgentTranscriptDelta,
    ConversationItemAcked,
    DataMsg,
    FunctionCallRequested,
    ModelError,
    ModelEvent,
    PlayoutFlush,
    ResponseContentAdded,
    ResponseCreated,
    ResponseDone,
    UserSpeechCommitted,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    UserTranscript,
    UserTranscriptFailed,
)
from ipc.stats import StageStats
from pipeline.providers import base as ev

# Agent audio is forwarded to playout in slices no longer than this.
SLICE_MS: Final = 100
# Items remembered after their response ended (their audio may still be playing).
KEPT_ITEMS: Final = 16

# Flush reasons of cuts the model made itself: it has already stopped the reply.
MODEL_CUTS: Final = ("speech_started", "model_interrupted")

SendFn = Callable[[DataMsg], None]
EmitFn = Callable[[ModelEvent], None]


@dataclass
class AudioItemState:
    item_id: str
    content_index: int
    received: int = 0
    seq: int = 0
    done: bool = False
    pending_text: list[str] = field(default_factory=list)  # deltas awaiting their audio
    response_id: str | None = None


@dataclass
class ModelReplies:
    session: str
    output_rate: int
    to_playout: SendFn
    emit: EmitFn  # session event, tagged with the link by the caller
    stats: StageStats
    items: dict[str, AudioItemState] = field(default_factory=dict)
    response_id: str | None = None
    # Items the agent asked the model to create or delete, acknowledged when it has.
    awaiting_ack: set[str] = field(default_factory=set)

    @property
    def busy(self) -> bool:
        """A response or an item's audio is still coming."""
        return self.response_id is not None or any(not i.done for i in self.items.values())

    def received(self, item_id: str) -> int | None:
        """Samples of ``item_id`` received so far (None: not known here)."""
        state = self.items.get(item_id)
        return None if state is None else state.received

    def abandon(self) -> None:
        """The link dropped mid-response: whatever was in flight is over."""
        for item in self.items.values():
            if not item.done:
                self.to_playout(AgentItemDone(self.session, item.item_id, True))
        self.items.clear()
        self.response_id = None

    def on_event(self, e: ev.ProviderEvent) -> None:
        """Act on one model event: audio and text to playout, the rest to the timeline."""
        s = self.session
        if isinstance(e, ev.AudioDelta):
            self._forward_audio(e)
        elif isinstance(e, ev.TranscriptDelta):
            self.to_playout(AgentText(s, e.item_id, e.content_index, e.delta))
            state = self._item(e.item_id, e.content_index)
            # A word's audio starts somewhere in the audio that follows its text: the
            # delta is reported once that audio has arrived, with its end as the word's
            # earliest start, so the agent never shows a word before it is heard.
            state.pending_text.append(e.delta)
        elif isinstance(e, ev.SpeechStarted):
            # Barge-in: playout goes silent at its next frame and reports what played.
            self.to_playout(PlayoutFlush(s, "speech_started", time.monotonic_ns()))
            self.emit(UserStartedSpeaking(e.item_id, e.audio_start_ms))
        elif isinstance(e, ev.Interrupted):
            # The model's own barge-in, no speech event to tell the agent: silence now.
            self.to_playout(PlayoutFlush(s, MODEL_CUTS[1], time.monotonic_ns()))
            self.stats.count("model_interrupted")
        elif isinstance(e, ev.SpeechStopped):
            self.emit(UserStoppedSpeaking(e.item_id, e.audio_end_ms))
        elif isinstance(e, ev.InputCommitted):
            self.emit(UserSpeechCommitted(e.item_id))
        elif isinstance(e, ev.InputTranscriptDelta):
            self.emit(UserTranscript(e.item_id, e.delta, final=False))
        elif isinstance(e, ev.InputTranscriptCompleted):
            self.emit(UserTranscript(e.item_id, e.transcript, final=True))
        elif isinstance(e, ev.InputTranscriptFailed):
            self.emit(UserTranscriptFailed(e.item_id, e.message))
        elif isinstance(e, ev.TextDone):
            # A text-only answer (no audio): the agent layer decides how to recover.
            self.emit(AgentTextReply(e.item_id, e.text))
        elif isinstance(e, ev.FunctionCall):
            self.emit(FunctionCallRequested(e.item_id, e.call_id, e.name, e.arguments,
                                            e.response_id))
        elif isinstance(e, ev.ResponseCreated):
            self.response_id = e.response_id
            self.emit(ResponseCreated(e.response_id))
        elif isinstance(e, ev.ContentPartAdded):
            if e.part_type == "audio":
                self._item(e.item_id, e.content_index)
            self.emit(ResponseContentAdded(e.item_id, e.content_index, e.part_type))
        elif isinstance(e, ev.AudioDone):
            self._item_done(e.item_id, interrupted=False)
        elif isinstance(e, ev.TranscriptDone):
            self.emit(AgentTranscript(e.item_id, e.transcript))
        elif isinstance(e, ev.ResponseDone):
            self._response_done(e)
        elif isinstance(e, ev.ItemCreated | ev.ItemDeleted):
            if e.item_id in self.awaiting_ack:
                self.awaiting_ack.discard(e.item_id)
                self.emit(ConversationItemAcked(e.item_id, isinstance(e, ev.ItemCreated)))
        elif isinstance(e, ev.ProviderError):
            self.stats.count("model_errors")
            self.emit(ModelError(e.code, e.message, e.event_id))

    def _item(self, item_id: str, content_index: int) -> AudioItemState:
        """The state of an agent audio item, made on its first sign."""
        state = self.items.get(item_id)
        if state is None:
            state = self.items[item_id] = AudioItemState(item_id, content_index,
                                                         response_id=self.response_id)
        return state

    def _forward_audio(self, e: ev.AudioDelta) -> None:
        state = self._item(e.item_id, e.content_index)
        rx = time.monotonic_ns()
        step = 2 * self.output_rate * SLICE_MS // 1000
        pcm = e.pcm
        for off in range(0, len(pcm), step):
            piece = pcm[off : off + step]
            self.to_playout(AgentAudio(self.session, e.item_id, e.content_index, state.seq,
                                            self.output_rate, piece, rx))
            state.seq += 1
        state.received += len(pcm) // 2
        self._release_text(state)

    def _release_text(self, state: AudioItemState) -> None:
        for delta in state.pending_text:
            self.emit(AgentTranscriptDelta(state.item_id, state.content_index, delta,
                                           state.received))
        state.pending_text.clear()

    def _item_done(self, item_id: str, interrupted: bool) -> None:
        state = self.items.get(item_id)
        if state is None or state.done:
            return
        self._release_text(state)
        state.done = True
        self.to_playout(AgentItemDone(self.session, item_id, interrupted))

    def _response_done(self, e: ev.ResponseDone) -> None:
        interrupted = e.status != "completed"
        for item_id, state in list(self.items.items()):
            if interrupted and state.done and state.response_id == e.response_id:
                # Its audio ended cleanly (the server closes open parts on cancel), but
                # the reply was cut: what is still playing of it ends as interrupted.
                self.to_playout(AgentItemDone(self.session, item_id, True))
            self._item_done(item_id, interrupted)
        self.emit(ResponseDone(e.response_id, e.status, e.status_reason, e.input_tokens,
                               e.output_tokens, e.details, e.error_type, e.error_code,
                               e.error_message))
        self.response_id = None
        # Keep received counts for truncation of what is still playing; forget the rest.
        if len(self.items) > KEPT_ITEMS:
            for item_id in list(self.items)[:-KEPT_ITEMS]:
                del self.items[item_id]
