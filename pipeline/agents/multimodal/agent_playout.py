"""``PlayoutHandle``: one agent audio item as the agent follows it being played.

The audio itself plays in the playout process; this side gets its transcript
deltas (with where in the audio each arrived) and playout's progress reports,
and releases transcript words only once their audio has played.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.agents.multimodal.options import AgentTranscriptionOptions
from pipeline.agents.multimodal.transcript_sync import TranscriptSegment, TranscriptSync

PublishFn = Callable[["PlayoutHandle", TranscriptSegment], None]


class PlayoutHandle:
    def __init__(self, item_id: str, content_index: int, opts: AgentTranscriptionOptions,
                 publish: PublishFn, sample_rate: int = 24000) -> None:
        self.item_id = item_id
        self.content_index = content_index
        self.sample_rate = sample_rate
        self._publish = publish if opts.agent_transcription else (lambda _h, _s: None)
        self._sync = TranscriptSync(
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
        return self.stopped

    @property
    def played_text(self) -> str:
        return self._sync.played_text

    @property
    def released_words(self) -> int:
        return len(self._sync.played_text.split())

    def on_text(self, delta: str, position: int) -> None:
        """A transcript delta that arrived when ``position`` samples had been received."""
        if position > self._received:
            self._sync.push_audio(position - self._received)
            self._received = position
        self._sync.push_text(delta)

    def on_text_done(self) -> None:
        self._sync.mark_text_done()

    def on_progress(self, played: int) -> None:
        self.started = True
        self.played_samples = max(self.played_samples, played)
        for segment in self._sync.advance(self.played_samples):
            self._publish(self, segment)

    def on_stopped(self, played: int, received: int, interrupted: bool) -> str:
        """Playout is over; returns what the user heard (plus "..." when cut)."""
        if received > self._received:
            self._sync.push_audio(received - self._received)
            self._received = received
        if not interrupted:
            self._sync.mark_audio_done()
            self._sync.mark_text_done()
        self.on_progress(played)
        self.stopped, self.interrupted = True, interrupted
        text = self._sync.played_text
        return text + "..." if interrupted else text
