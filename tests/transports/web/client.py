"""A WebRTC caller without a browser: an aiortc peer on this host.

It plays a WAV as its microphone, paced in real time from the first frame its sender
asks for (then silence: the line stays open), opens the ``voxpipe`` data channel,
offers with no ICE servers (host candidates only), and records what it receives:
the agent's audio (48 kHz, downmixed to mono, in arrival order) and every data
channel message.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from ipc.schema import WebTransport
from pipeline.transports.file.wav_reader import WavSource
from pipeline.transports.web.audio import frame_pcm

FRAME_MS = 20


class WavTrack(MediaStreamTrack):
    """A WAV file as a live microphone: 20 ms frames at the file's rate, paced."""

    kind = "audio"

    def __init__(self, wav: Path) -> None:
        super().__init__()
        with WavSource.open(wav) as src:
            self.rate, self.channels = src.sample_rate, src.channels
            pcm = np.frombuffer(src.read_s16(0, src.frames), dtype="<i2")
        self.samples = pcm.reshape(-1, self.channels).mean(axis=1).astype("<i2")
        self.frame_samples = self.rate * FRAME_MS // 1000
        self.started_at: float | None = None  # monotonic time of the first frame
        self._pts = 0

    @property
    def done(self) -> bool:
        return self._pts >= len(self.samples)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.started_at is None:
            self.started_at = time.monotonic()
        wait = self.started_at + self._pts / self.rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        chunk = self.samples[self._pts : self._pts + self.frame_samples]
        if len(chunk) < self.frame_samples:
            chunk = np.concatenate([chunk, np.zeros(self.frame_samples - len(chunk), "<i2")])
        frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.rate)
        self._pts += self.frame_samples
        return frame


class WebCaller:
    """One call: ``offer()`` -> a ``WebTransport``; ``answer(sdp)``; ``close()``."""

    def __init__(self, wav: Path, pc_id: str = "caller") -> None:
        self.pc_id = pc_id
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = WavTrack(wav)
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("voxpipe")
        self.messages: list[dict[str, Any]] = []
        self.channel.on("message", lambda m: self.messages.append(json.loads(m)))
        self.chunks: list[npt.NDArray[np.int16]] = []
        self.first_audio_at: float | None = None  # monotonic time of the first frame
        self.received_frames = 0
        self.states: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange",
                   lambda: self.states.append(self.pc.connectionState))

    async def offer(self, ice_servers: tuple[str, ...] = ()) -> WebTransport:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        desc = self.pc.localDescription
        return WebTransport(self.pc_id, desc.sdp, desc.type, ice_servers)

    async def answer(self, sdp: str, sdp_type: str = "answer") -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=sdp_type))

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._tasks.append(asyncio.create_task(self._record(track)))

    async def _record(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, AudioFrame)
            if self.first_audio_at is None:
                self.first_audio_at = time.monotonic()
            pcm = np.frombuffer(frame_pcm(frame), dtype="<i2")
            channels = len(frame.layout.channels)
            mono = pcm.reshape(-1, channels).mean(axis=1) if channels > 1 else pcm
            self.chunks.append(mono.astype(np.int16))
            self.received_frames += 1

    def received(self) -> npt.NDArray[np.float64]:
        """What the caller heard, 48 kHz mono in [-1, 1)."""
        if not self.chunks:
            return np.zeros(0)
        return np.concatenate(self.chunks).astype(np.float64) / 32768.0

    async def close(self) -> None:
        await self.pc.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
