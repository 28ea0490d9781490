"""The LiveKit transport's stage half on a scripted room, loaded by the edge process
(``VOXPIPE_TRANSPORT_MODULES=livekit=tests.transports.livekit.scripted_edge``).

The edge builds the real ``LiveKitConnection``; only the room is the duck (a LiveKit
server cannot run here). In it, a caller (``CALLER``) is in the room when the agent
joins, says the WAV named by ``WAV_ENV`` on a real microphone track, stays quiet for
``LINGER_S`` and leaves. What the room got from the agent — the voice heard through
an ``rtc.AudioStream`` on its published track, its attributes and transcriptions —
is written to the session's record directory when the connection closes, for the
test in the supervisor's process to read.
"""

from __future__ import annotations

import asyncio
import json
import os
import wave
from pathlib import Path
from typing import Any, Final

import numpy as np
from livekit import rtc

from ipc.schema import SessionConfig
from pipeline.transports.base import EmitEvent
from pipeline.transports.livekit.connection import LiveKitConnection
from tests.transports.livekit.duck_room import CallerMic, DuckLocalPublication, DuckRoom

WAV_ENV: Final = "VOXPIPE_TEST_LIVEKIT_WAV"
CALLER: Final = "caller-7"
LINGER_S: Final = 1.5
# What the voice reader is given to catch up before the room closes (the edge allows
# a connection 1 s to close).
DRAIN_S: Final = 0.3
HEARD_FILE: Final = "livekit_heard.raw"
NOTES_FILE: Final = "livekit_notes.json"


class ScriptedRoom(DuckRoom):
    def __init__(self, out_dir: Path, wav: Path) -> None:
        super().__init__()
        self.out_dir, self.wav = out_dir, wav
        self.heard: list[bytes] = []
        self._tasks: list[asyncio.Task[None]] = []
        local = self.local_participant
        publish = local.publish_track

        async def publish_and_listen(track: Any, options: Any = None) -> DuckLocalPublication:
            self._tasks.append(asyncio.create_task(self._listen(track)))
            return await publish(track, options)

        local.publish_track = publish_and_listen  # type: ignore[method-assign]

    async def connect(self, url: str, token: str, options: Any = None) -> None:
        await super().connect(url, token, options)
        with wave.open(str(self.wav)) as w:
            rate, channels = w.getframerate(), w.getnchannels()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        mic = CallerMic(rate)
        self.add(CALLER, mic)
        self._tasks.append(asyncio.create_task(self._say(mic, pcm.reshape(-1, channels)[:, 0])))

    async def _say(self, mic: CallerMic, speech: np.ndarray) -> None:
        await mic.say(speech, frame=mic.rate // 100)
        await asyncio.sleep(LINGER_S + mic.source.queued_duration)
        self.leave(CALLER)

    async def _listen(self, track: Any) -> None:
        async for event in rtc.AudioStream.from_track(track=track, sample_rate=24000):
            self.heard.append(event.frame.data.tobytes())

    async def disconnect(self) -> None:
        await asyncio.sleep(DRAIN_S)  # the voice reader may trail on a loaded machine
        for task in self._tasks:
            task.cancel()
        (self.out_dir / HEARD_FILE).write_bytes(b"".join(self.heard))
        local = self.local_participant
        notes = {"attributes": local.attributes,
                 "transcriptions": [[t.participant_identity, t.track_sid,
                                     [[s.id, s.text, s.final] for s in t.segments]]
                                    for t in local.transcriptions]}
        (self.out_dir / NOTES_FILE).write_text(json.dumps(notes))
        await super().disconnect()


def edge_connection(cfg: SessionConfig, emit: EmitEvent) -> LiveKitConnection:
    wav = Path(os.environ[WAV_ENV])
    return LiveKitConnection(cfg, emit, room_factory=lambda: ScriptedRoom(Path(cfg.out_dir), wav))
