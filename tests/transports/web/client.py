"""A WebRTC caller without a browser: an aiortc peer on this host.

It plays a WAV as its microphone, paced in real time from the first frame its sender
asks for (then silence: the line stays open), opens the ``voxpipe`` data channel,
offers with no ICE servers and host candidates on 127.0.0.1 only (``LOOPBACK``: nothing
leaves the machine), and records what it receives:
the agent's audio (48 kHz, downmixed to mono, in arrival order) and every data
channel message. Through ``voxpipe serve``: :meth:`WebCaller.offer_body` is the body of
``POST /api/offer`` (pipecat's SmallWebRTC contract), :meth:`WebCaller.accept` takes
its reply.

With ``inline_opus`` (the load benchmark's many callers on a small host) it encodes and
decodes Opus on its loop, as the edge does, instead of on aiortc's threads: the callers
then cost a fraction of what they would, and the machine is left to voxpipe. Tests keep
aiortc's own codec path, so the peer stays independent of the edge's.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import soxr
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from ipc.schema import WebTransport
from pipeline.transports.file.wav_reader import WavSource
from pipeline.transports.web.ice import host_addresses
from pipeline.transports.web.opus import RATE as OPUS_RATE
from pipeline.transports.web.opus import OpusDecoder, OpusEncoder
from pipeline.transports.web.receiver import take_packets_on_arrival

# Every test peer (and the edge it calls) gathers host candidates here only.
LOOPBACK: Final = ("127.0.0.1",)


async def describe_locally(pc: RTCPeerConnection) -> RTCSessionDescription:
    """``pc``'s offer (or answer, once it has the remote offer), set as its local
    description with its ICE candidates on ``LOOPBACK`` only."""
    make = pc.createAnswer if pc.signalingState == "have-remote-offer" else pc.createOffer
    with host_addresses(LOOPBACK):
        await pc.setLocalDescription(await make())
    return pc.localDescription

FRAME_MS = 20
RATE = 48_000  # what the caller hears (aiortc's Opus decoder)


def frame_pcm(frame: AudioFrame) -> bytes:
    """A decoded frame's samples as interleaved int16 (packed s16 is copied as is;
    planar and float formats are interleaved/converted by numpy)."""
    channels = len(frame.layout.channels)
    name = frame.format.name
    if name == "s16":
        return bytes(memoryview(frame.planes[0])[: 2 * channels * frame.samples])
    data = frame.to_ndarray()  # packed: (1, samples * channels); planar: (channels, samples)
    if frame.format.is_planar:
        data = data.T
    if name in ("flt", "fltp", "dbl", "dblp"):
        data = np.clip(data * 32768.0, -32768, 32767)
    return np.ascontiguousarray(data, dtype="<i2").tobytes()



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


class OpusWavTrack(WavTrack):
    """A WavTrack that hands aiortc Opus packets it encoded itself (48 kHz mono)."""

    def __init__(self, wav: Path) -> None:
        super().__init__(wav)
        self.samples = np.asarray(soxr.resample(self.samples, self.rate, OPUS_RATE),
                                  dtype="<i2")
        self.rate, self.frame_samples = OPUS_RATE, OPUS_RATE * FRAME_MS // 1000
        self._encoder = OpusEncoder()

    async def recv(self) -> Any:
        frame = await super().recv()
        assert isinstance(frame, AudioFrame)
        return self._encoder.encode(frame)


class WebCaller:
    """One call: ``offer()`` -> a ``WebTransport``; ``answer(sdp)``; ``close()``."""

    def __init__(self, wav: Path, pc_id: str = "caller", *, inline_opus: bool = False) -> None:
        self.pc_id = pc_id
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.inline_opus = inline_opus
        self._decoder = OpusDecoder() if inline_opus else None
        self._first_timestamp: int | None = None
        self.mic = OpusWavTrack(wav) if inline_opus else WavTrack(wav)
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("voxpipe")
        self.messages: list[dict[str, Any]] = []
        self.channel.on("message", lambda m: self.messages.append(json.loads(m)))
        self.chunks: list[npt.NDArray[np.int16]] = []
        self.arrivals: list[float] = []  # monotonic arrival time of each chunk
        self.pts: list[int] = []  # each chunk's place on the sender's 48 kHz clock
        self.first_audio_at: float | None = None  # monotonic time of the first frame
        self.received_frames = 0
        self.states: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange",
                   lambda: self.states.append(self.pc.connectionState))

    async def offer(self, ice_servers: tuple[str, ...] = ()) -> WebTransport:
        desc = await describe_locally(self.pc)
        return WebTransport(self.pc_id, desc.sdp, desc.type, ice_servers, LOOPBACK)

    async def answer(self, sdp: str, sdp_type: str = "answer") -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=sdp_type))

    async def offer_body(self) -> dict[str, str]:
        """``{sdp, type}`` for ``POST /api/offer`` (ICE gathered: aiortc does not trickle)."""
        transport = await self.offer()
        return {"sdp": transport.offer_sdp, "type": transport.offer_type}

    async def accept(self, reply: dict[str, Any]) -> None:
        """The server's ``{sdp, type, pc_id}``: the call's id is the server's."""
        self.pc_id = reply["pc_id"]
        await self.answer(reply["sdp"], reply["type"])

    async def wait_for_reply(self, timeout_s: float, threshold: float = 0.01,
                             quiet_s: float = 1.0) -> npt.NDArray[np.float64]:
        """Once the file has played, wait until a reply was heard and then ``quiet_s``
        of quiet (or ``timeout_s`` passed); what the caller heard (see ``received``)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            heard = self.received()
            loud = np.nonzero(np.abs(heard) > threshold)[0]
            if self.mic.done and loud.size and len(heard) - loud[-1] > quiet_s * RATE:
                break
        return self.received()

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio":
            return
        if self._decoder is None:
            self._tasks.append(asyncio.create_task(self._record(track)))
            return
        for transceiver in self.pc.getTransceivers():
            if transceiver.receiver.track is track:
                take_packets_on_arrival(transceiver.receiver, self._on_packet)

    def _on_packet(self, payload: bytes, timestamp: int) -> None:
        """Inline Opus: one packet of the agent's audio, decoded as it arrives."""
        assert self._decoder is not None
        if self._first_timestamp is None:
            self._first_timestamp = timestamp
        pts = (timestamp - self._first_timestamp) % (1 << 32)  # RTP time wraps at 2**32
        for pcm in self._decoder.decode(payload):
            self._heard(np.frombuffer(pcm, dtype="<i2").copy(), pts)

    async def _record(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, AudioFrame)
            pcm = np.frombuffer(frame_pcm(frame), dtype="<i2")
            channels = len(frame.layout.channels)
            mono = pcm.reshape(-1, channels).mean(axis=1) if channels > 1 else pcm
            self._heard(mono.astype(np.int16), int(frame.pts or 0))

    def _heard(self, mono: npt.NDArray[np.int16], pts: int) -> None:
        now = time.monotonic()
        if self.first_audio_at is None:
            self.first_audio_at = now
        self.chunks.append(mono)
        self.arrivals.append(now)
        self.pts.append(pts)
        self.received_frames += 1

    def received(self) -> npt.NDArray[np.float64]:
        """What the caller heard, 48 kHz mono in [-1, 1), each frame where the sender's
        clock put it (frames the sender skipped or the network lost read as silence)."""
        if not self.chunks:
            return np.zeros(0)
        start = self.pts[0]
        end = max(p - start + len(c) for p, c in zip(self.pts, self.chunks, strict=True))
        out = np.zeros(end, dtype=np.float64)
        for p, c in zip(self.pts, self.chunks, strict=True):
            out[p - start : p - start + len(c)] = c / 32768.0
        return out

    async def close(self) -> None:
        await self.pc.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
