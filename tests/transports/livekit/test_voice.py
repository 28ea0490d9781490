"""The agent's voice through the real SDK objects (no server needed): playout's frames
come out of an ``rtc.AudioStream`` on the ``assistant_voice`` track as written, and a
flush empties the source's queue (played = pushed - queued)."""

from __future__ import annotations

import asyncio

import numpy as np
from livekit import rtc

from pipeline.transports.livekit.voice import TRACK_NAME, AgentVoice

RATE = 24000
FRAME = 480  # playout's 20 ms at 24 kHz


def _voice_signal(n: int, seed: int) -> np.ndarray:
    """Never zero, so the stream's silence (it ticks on an empty source) is told apart."""
    rng = np.random.default_rng(seed)
    signal: np.ndarray = (rng.integers(500, 16000, n) * rng.choice([-1, 1], n)).astype(np.int16)
    return signal


async def _heard(stream: rtc.AudioStream, out: list[np.ndarray]) -> None:
    async for event in stream:
        out.append(np.frombuffer(event.frame.data, dtype=np.int16).copy())


def _voiced(blocks: list[np.ndarray]) -> np.ndarray:
    both: np.ndarray = np.concatenate(blocks) if blocks else np.zeros(0, np.int16)
    voiced: np.ndarray = both[both != 0]
    return voiced


def test_playout_frames_come_out_of_the_track_as_written() -> None:
    async def main() -> tuple[np.ndarray, np.ndarray, AgentVoice]:
        voice = AgentVoice(RATE)
        stream = rtc.AudioStream.from_track(track=voice.track, sample_rate=RATE, num_channels=1)
        heard: list[np.ndarray] = []
        reader = asyncio.create_task(_heard(stream, heard))
        sig = _voice_signal(FRAME * 25, seed=1)
        for seq in range(25):  # paced as playout paces them
            await voice.push(RATE, sig[seq * FRAME:(seq + 1) * FRAME].tobytes())
            await asyncio.sleep(0.02)
        for _ in range(100):
            if len(_voiced(heard)) >= len(sig):
                break
            await asyncio.sleep(0.02)
        reader.cancel()
        await stream.aclose()
        await voice.aclose()
        return sig, _voiced(heard), voice

    sig, heard, voice = asyncio.run(main())
    assert voice.track.name == TRACK_NAME
    assert np.array_equal(heard, sig)
    assert voice.pushed_samples == len(sig)


def test_flush_clears_the_queue_and_played_is_pushed_minus_queued() -> None:
    async def main() -> dict[str, object]:
        voice = AgentVoice(RATE, queue_ms=1000)
        stream = rtc.AudioStream.from_track(track=voice.track, sample_rate=RATE, num_channels=1)
        heard: list[np.ndarray] = []
        reader = asyncio.create_task(_heard(stream, heard))
        sig = _voice_signal(FRAME * 20, seed=2)  # 400 ms at once: most of it waits
        for seq in range(20):
            await voice.push(RATE, sig[seq * FRAME:(seq + 1) * FRAME].tobytes())
        await asyncio.sleep(0.05)  # some of it is heard
        queued = voice.queued_samples()
        dropped = voice.flush()
        after = {"queued": voice.queued_samples(), "played": voice.played_samples}
        await asyncio.sleep(0.6)  # longer than what was queued: nothing more comes out
        reader.cancel()
        await stream.aclose()
        await voice.aclose()
        return {"sig": sig, "heard": _voiced(heard), "queued": queued,
                "dropped": dropped, "after": after,
                "voice": voice}

    r = asyncio.run(main())
    sig, heard, voice = r["sig"], r["heard"], r["voice"]
    assert isinstance(sig, np.ndarray) and isinstance(heard, np.ndarray)
    assert isinstance(voice, AgentVoice)
    assert isinstance(r["queued"], int) and r["queued"] > 0
    assert isinstance(r["dropped"], int) and r["dropped"] > 0
    assert r["after"] == {"queued": 0, "played": len(sig) - r["dropped"]}
    assert voice.played_samples + voice.flushed_samples == len(sig)
    # What the room heard is the start of what was written, and not all of it.
    assert 0 < len(heard) < len(sig)
    assert np.array_equal(heard, sig[:len(heard)])


def test_a_frame_at_another_rate_is_counted_and_dropped() -> None:
    async def main() -> AgentVoice:
        voice = AgentVoice(RATE)
        await voice.push(16000, bytes(640))
        await voice.push(RATE, b"\x01")  # half a sample
        await voice.aclose()
        return voice

    voice = asyncio.run(main())
    assert voice.frames_dropped == 2
    assert voice.pushed_samples == 0
