"""The agent's voice in a LiveKit room, as the seed publishes it.

One ``rtc.AudioSource`` (24 kHz mono: playout's output rate) behind a local track
named ``assistant_voice``. Playout paces the frames, so the source's queue holds
about one frame; a barge-in empties it with ``clear_queue()``. What the room has
heard of the agent is what was pushed minus what is still queued, as the seed's
``AgentPlayout`` counts it.
"""

from __future__ import annotations

from typing import Final

from livekit import rtc

TRACK_NAME: Final = "assistant_voice"
# The source's own queue: a paced frame every 20 ms never fills it; a stalled room
# makes ``capture_frame`` wait rather than buffer seconds of stale voice.
QUEUE_MS: Final = 200


class AgentVoice:
    """The outbound track; :meth:`push` takes playout's frames (mono int16)."""

    def __init__(self, sample_rate: int, *, queue_ms: int = QUEUE_MS) -> None:
        self.sample_rate = sample_rate
        self.source = rtc.AudioSource(sample_rate, 1, queue_size_ms=queue_ms)
        self.track = rtc.LocalAudioTrack.create_audio_track(TRACK_NAME, self.source)
        self.pushed_samples = 0
        self.flushed_samples = 0
        self.frames_dropped = 0

    async def push(self, sample_rate: int, pcm: bytes) -> None:
        """One paced frame into the source (a frame at another rate is counted and
        dropped: playout's rate is the session's, fixed when the track was made)."""
        if sample_rate != self.sample_rate or len(pcm) % 2:
            self.frames_dropped += 1
            return
        samples = len(pcm) // 2
        if samples == 0:
            return
        await self.source.capture_frame(rtc.AudioFrame(pcm, sample_rate, 1, samples))
        self.pushed_samples += samples

    def queued_samples(self) -> int:
        return round(self.source.queued_duration * self.sample_rate)

    @property
    def played_samples(self) -> int:
        """Samples the room has taken: pushed minus still queued."""
        return max(0, self.pushed_samples - self.queued_samples())

    def flush(self) -> int:
        """Barge-in: drop what the source still queues; the samples dropped."""
        dropped = min(self.queued_samples(), self.pushed_samples)
        self.source.clear_queue()
        self.pushed_samples -= dropped
        self.flushed_samples += dropped
        return dropped

    def counters(self) -> dict[str, int]:
        return {"voice_samples_played": self.played_samples,
                "voice_samples_flushed": self.flushed_samples,
                "voice_frames_dropped": self.frames_dropped}

    async def aclose(self) -> None:
        await self.source.aclose()
