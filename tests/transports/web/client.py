"""A WebRTC caller for tests: an aiortc peer that speaks a recording and records the reply.

It plays ``speech`` (mono int16 at 48 kHz) as its microphone, paced in real time, then
silence for as long as the call lasts (a live microphone never stops sending); it
records every frame it receives (downmixed to mono) and the JSON lines of the
``voxpipe`` data channel. Signalling is the pipecat SmallWebRTC contract of
``POST /api/offer``: :meth:`offer` gives the body, :meth:`accept` takes the reply.

ICE: ``RTCConfiguration(iceServers=[])`` — host candidates on this machine only;
without it aiortc would ask a public STUN server.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

RATE = 48_000
FRAME = RATE // 50  # 20 ms
I16 = npt.NDArray[np.int16]


def speech_at_48k(path: Path, start_s: float = 0.0, end_s: float | None = None) -> I16:
    """A slice of a mono/stereo int16 WAV, downmixed and resampled to 48 kHz."""
    from scipy.signal import resample_poly

    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2, "int16 WAV expected"
        rate, channels = w.getframerate(), w.getnchannels()
        w.setpos(int(start_s * rate))
        n = (w.getnframes() if end_s is None else int(end_s * rate)) - int(start_s * rate)
        x = np.frombuffer(w.readframes(n), dtype="<i2").reshape(-1, channels).mean(axis=1)
    y = resample_poly(x, RATE, rate) if rate != RATE else x
    return np.asarray(np.clip(np.round(y), -32768, 32767), dtype=np.int16)


class SpeechTrack(MediaStreamTrack):
    """The caller's microphone: ``speech`` once, then silence, one 20 ms frame per 20 ms."""

    kind = "audio"

    def __init__(self, speech: I16, lead_s: float = 0.5) -> None:
        super().__init__()
        lead = np.zeros(int(lead_s * RATE), dtype=np.int16)
        self.samples = np.concatenate([lead, speech])
        self.sent = 0
        self._start: float | None = None

    @property
    def speech_done(self) -> bool:
        return self.sent >= len(self.samples)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        k = self.sent // FRAME
        due = self._start + k * FRAME / RATE
        if due > now:
            await asyncio.sleep(due - now)
        chunk = self.samples[self.sent : self.sent + FRAME]
        if len(chunk) < FRAME:
            chunk = np.concatenate([chunk, np.zeros(FRAME - len(chunk), dtype=np.int16)])
        frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self.sent
        frame.time_base = fractions.Fraction(1, RATE)
        self.sent += FRAME
        return frame


class WebCaller:
    """One test caller: its peer connection, what it sends and what it hears."""

    def __init__(self, speech: I16, lead_s: float = 0.5) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = SpeechTrack(speech, lead_s)
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("voxpipe", ordered=True)
        self.lines: list[dict[str, Any]] = []
        self.channel.on("message", self._on_line)
        self.heard: list[I16] = []
        self.pc_id = ""
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    async def offer(self) -> dict[str, str]:
        """The body of ``POST /api/offer`` (ICE gathered: aiortc does not trickle)."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return {"sdp": self.pc.localDescription.sdp, "type": self.pc.localDescription.type}

    async def accept(self, reply: dict[str, Any]) -> None:
        """The server's answer (``{sdp, type, pc_id}``)."""
        self.pc_id = reply["pc_id"]
        await self.pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], reply["type"]))

    def received(self) -> I16:
        """Everything heard so far, mono int16 at 48 kHz."""
        return np.concatenate(self.heard) if self.heard else np.zeros(0, dtype=np.int16)

    async def wait_for_reply(self, timeout_s: float, threshold: int = 300,
                             quiet_s: float = 1.0) -> I16:
        """Wait until the caller has spoken and heard a reply that then went quiet for
        ``quiet_s`` (or ``timeout_s`` passed); what it heard."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            heard = self.received()
            loud = np.nonzero(np.abs(heard.astype(np.int32)) > threshold)[0]
            if self.mic.speech_done and loud.size and len(heard) - loud[-1] > quiet_s * RATE:
                break
        return self.received()

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()

    def _on_line(self, message: object) -> None:
        if isinstance(message, str):
            with contextlib.suppress(ValueError):
                self.lines.append(json.loads(message))

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._tasks.append(asyncio.create_task(self._listen(track)))

    async def _listen(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, AudioFrame)
            pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels))
            self.heard.append(pcm.mean(axis=1).astype(np.int16))


def best_correlation(heard: npt.NDArray[Any], turn: npt.NDArray[Any]) -> float:
    """The peak normalised cross-correlation of ``turn`` against every place in
    ``heard`` (both at the same rate): 1.0 where ``heard`` holds ``turn`` exactly."""
    a = heard.astype(np.float64)
    b = turn.astype(np.float64)
    if len(a) < len(b) or not np.any(b):
        return 0.0
    size = 1 << (len(a) + len(b)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)[
        : len(a) - len(b) + 1]
    energy = np.concatenate([[0.0], np.cumsum(a * a)])
    window = energy[len(b):] - energy[: len(a) - len(b) + 1]
    # Places quieter than a hundredth of the turn cannot hold it (and would divide by ~0).
    ok = window > 0.01 * float(np.dot(b, b))
    if not np.any(ok):
        return 0.0
    return float(np.max(corr[ok] / np.sqrt(window[ok] * float(np.dot(b, b)))))
