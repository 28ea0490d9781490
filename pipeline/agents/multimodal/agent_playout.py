"""``AgentPlayout`` and ``PlayoutHandle`` (livekit-agents 0.12's ``agent_playout``): the
agent's items as the agent follows them being played.

The audio itself plays in the playout process; this side gets each item's transcript
deltas (with where in the audio each arrived) and playout's progress reports, releases
transcript words only once their audio has played, and turns playout's start and stop
reports into 0.12's ``playout_started`` / ``playout_stopped`` events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pipeline.agents.event_emitter import EventEmitter
from pipeline.agents.multimodal.options import AgentTranscriptionOptions
from pipeline.agents.multimodal.transcript_sync import TranscriptSegment, TranscriptSync

PublishFn = Callable[["PlayoutHandle", TranscriptSegment], None]
InterruptFn = Callable[["PlayoutHandle"], None]
EventTypes = Literal["playout_started", "playout_stopped"]


class PlayoutHandle:
    def __init__(self, item_id: str, content_index: int, opts: AgentTranscriptionOptions,
                 publish: PublishFn, on_interrupt: InterruptFn | None = None,
                 sample_rate: int = 24000) -> None:
        self.item_id = item_id
        self.content_index = content_index
        self.sample_rate = sample_rate
        self._on_interrupt = on_interrupt
        self._publish = publish if opts.agent_transcription else (lambda _h, _s: None)
        # 0.12's name for the handle's transcript forwarder (agents read its played_text).
        self._tr_fwd = TranscriptSync(
            sample_rate=sample_rate, speed=opts.agent_transcription_speed,
            sentence_tokenizer=opts.sentence_tokenizer, word_tokenizer=opts.word_tokenizer,
            hyphenate_word=opts.hyphenate_word,
        )
        self._received = 0
        self.started = False
        self.stopped = False
        self.interrupted = False
        self.played_samples = 0

    def done(self) -> bool:
        return self.stopped or self.interrupted

    def interrupt(self) -> None:
        """Stop this item's playout (playout cuts it at its next frame)."""
        if not self.done() and self._on_interrupt is not None:
            self._on_interrupt(self)

    @property
    def audio_samples(self) -> int:
        """Samples of the item played so far (24 kHz)."""
        return self.played_samples

    @property
    def text_chars(self) -> int:
        """Characters of its transcript released so far (what was heard)."""
        return len(self._tr_fwd.played_text)

    @property
    def played_text(self) -> str:
        return self._tr_fwd.played_text

    @property
    def released_words(self) -> int:
        return len(self._tr_fwd.played_text.split())

    def on_text(self, delta: str, position: int) -> None:
        """A transcript delta that arrived when ``position`` samples had been received."""
        if position > self._received:
            self._tr_fwd.push_audio(position - self._received)
            self._received = position
        self._tr_fwd.push_text(delta)

    def on_text_done(self) -> None:
        self._tr_fwd.mark_text_done()

    def on_progress(self, played: int) -> None:
        self.started = True
        self.played_samples = max(self.played_samples, played)
        for segment in self._tr_fwd.advance(self.played_samples):
            self._publish(self, segment)

    def on_stopped(self, played: int, received: int, interrupted: bool) -> str:
        """Playout is over; returns what the user heard (plus "..." when cut)."""
        if received > self._received:
            self._tr_fwd.push_audio(received - self._received)
            self._received = received
        if not interrupted:
            self._tr_fwd.mark_audio_done()
            self._tr_fwd.mark_text_done()
        self.on_progress(played)
        self.stopped, self.interrupted = True, interrupted
        text = self._tr_fwd.played_text
        return text + "..." if interrupted else text


class AgentPlayout(EventEmitter[EventTypes]):
    """The agent's items being played: ``play`` makes an item's handle; playout's start
    and stop reports become ``playout_started`` and ``playout_stopped(interrupted,
    handle, text)`` (a 0.12 handler taking ``interrupted`` alone gets just that)."""

    def __init__(self) -> None:
        super().__init__()
        self._handles: dict[str, PlayoutHandle] = {}
        self.playing: PlayoutHandle | None = None  # the latest item (kept once done)

    def play(self, item_id: str, content_index: int, opts: AgentTranscriptionOptions,
             publish: PublishFn, on_interrupt: InterruptFn) -> PlayoutHandle:
        handle = PlayoutHandle(item_id, content_index, opts, publish, on_interrupt)
        self._handles[item_id] = handle
        self.playing = handle
        return handle

    def get(self, item_id: str) -> PlayoutHandle | None:
        return self._handles.get(item_id)

    def started(self, item_id: str) -> None:
        handle = self._handles.get(item_id)
        if handle is not None:
            handle.started = True
        self.emit("playout_started")

    def stopped(self, item_id: str, played: int, received_ms: float, interrupted: bool) -> None:
        handle = self._handles.pop(item_id, None)
        text = ""
        if handle is not None:
            received = round(received_ms * handle.sample_rate / 1000)
            text = handle.on_stopped(played, received, interrupted)
        self.emit("playout_stopped", interrupted, handle, text)
