"""The LiveKit edge connection against a real LiveKit server, with a real caller.

Runs only when ``LIVEKIT_URL``, ``LIVEKIT_API_KEY`` and ``LIVEKIT_API_SECRET`` are set
(no LiveKit server can be installed on the development machine, so it is skipped
there). A caller joins with its own ``rtc.Room``, publishes a microphone and says a
tone; the connection links it, hears the tone, speaks another on ``assistant_voice``
(which the caller hears), publishes the agent state and a transcription, and ends its
input when the caller leaves.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import numpy as np
import pytest
from livekit import api, rtc

from ipc.schema import (
    LiveKitTransport,
    ParticipantAttributes,
    ParticipantLeft,
    ParticipantLinked,
    SessionConfig,
    SessionEvent,
    UserTranscription,
    record_line,
)
from pipeline.transports.livekit.connection import LiveKitConnection

ENV = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
pytestmark = pytest.mark.skipif(
    not all(os.environ.get(k) for k in ENV),
    reason="no LiveKit server: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET "
           "(none can be installed on this machine)")


def _token(room: str, identity: str) -> str:
    return (api.AccessToken(os.environ["LIVEKIT_API_KEY"], os.environ["LIVEKIT_API_SECRET"])
            .with_identity(identity)
            .with_grants(api.VideoGrants(room_join=True, room=room)).to_jwt())


def _tone(hz: float, rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def _pitch(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


async def _collect(conn: LiveKitConnection, seconds: float) -> tuple[np.ndarray, bool]:
    out, ended, deadline = [], False, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = await asyncio.wait_for(conn.receive(), 0.5)
        except TimeoutError:
            continue
        if chunk == b"":
            ended = True
            break
        out.append(np.frombuffer(chunk, dtype=np.int16))
    return (np.concatenate(out) if out else np.zeros(0, np.int16)), ended


def test_a_caller_and_the_agent_hear_each_other_through_a_livekit_server() -> None:
    async def main() -> None:
        url, name = os.environ["LIVEKIT_URL"], f"voxpipe-e2e-{uuid.uuid4().hex[:8]}"
        events: list[SessionEvent] = []
        cfg = SessionConfig("s-e2e", time.monotonic_ns(), "/tmp/unused",
                            LiveKitTransport(url=url, token=_token(name, "voxpipe-agent"),
                                             participant_identity="caller", room=name))
        conn = LiveKitConnection(cfg, events.append)
        caller = rtc.Room()
        heard: list[np.ndarray] = []
        states: list[str] = []
        texts: list[str] = []
        readers: list[asyncio.Task[None]] = []

        def on_track(track: rtc.Track, pub: rtc.RemoteTrackPublication, *_: object) -> None:
            async def read() -> None:
                async for ev in rtc.AudioStream.from_track(track=track, sample_rate=24000):
                    heard.append(np.frombuffer(ev.frame.data, dtype=np.int16).copy())
            if pub.name == "assistant_voice":
                readers.append(asyncio.ensure_future(read()))

        caller.on("track_subscribed", on_track)
        caller.on("participant_attributes_changed", lambda changed, p: states.append(
            changed.get("lk.agent.state", "")))
        caller.on("transcription_received", lambda segs, *_: texts.extend(s.text for s in segs))
        await caller.connect(url, _token(name, "caller"))
        mic = rtc.AudioSource(48000, 1)
        await caller.local_participant.publish_track(
            rtc.LocalAudioTrack.create_audio_track("mic", mic),
            rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
        await conn.open()
        said = _tone(440, 48000, 2.0)
        for i in range(0, len(said), 480):
            await mic.capture_frame(rtc.AudioFrame(said[i:i + 480].tobytes(), 48000, 1, 480))
        got, _ = await _collect(conn, 3.0)
        voice = _tone(660, 24000, 1.0)
        for seq, i in enumerate(range(0, len(voice), 480)):
            await conn.send(seq, 24000, voice[i:i + 480].tobytes())
            await asyncio.sleep(0.02)
        conn.deliver(record_line("s-e2e", ParticipantAttributes({"lk.agent.state": "speaking"}),
                                 1.0, "agent"))
        conn.deliver(record_line("s-e2e", UserTranscription("hello", True), 1.0, "agent"))
        await asyncio.sleep(1.0)
        await caller.disconnect()
        _, ended = await _collect(conn, 10.0)
        await conn.close()
        for reader in readers:
            reader.cancel()

        assert [e for e in events if isinstance(e, ParticipantLinked)] == [
            ParticipantLinked("caller")]
        loud = got[np.abs(got) > 1000]
        assert len(loud) > 48000 and abs(_pitch(got, 48000) - 440) < 10
        agent = np.concatenate(heard) if heard else np.zeros(0, np.int16)
        assert abs(_pitch(agent, 24000) - 660) < 10
        assert "speaking" in states and "hello" in texts
        assert ended and [e.identity for e in events if isinstance(e, ParticipantLeft)] == [
            "caller"]

    asyncio.run(asyncio.wait_for(main(), 60))
