"""Opus at the edge, inline: what the encoder packs, the decoder gives back (a signal
comparison), stamped for aiortc's sender; a packet that is not Opus is counted, not
fatal; the outgoing track hands aiortc those packets."""

from __future__ import annotations

import asyncio
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import soxr

from pipeline.transports.web.audio import FRAME_NS, FRAME_SAMPLES, AgentTrack, FrameClock
from pipeline.transports.web.opus import OpusDecoder, OpusEncoder
from tests.transports.web.test_web_audio import FakeNow

SPEECH = Path(__file__).parents[3] / "examples" / "audio" / "three_turns.wav"


def _voice_like(seconds: float) -> np.ndarray:
    """A gliding harmonic tone with a syllable-rate envelope, int16 at 48 kHz."""
    t = np.arange(int(48000 * seconds)) / 48000
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 48000
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return (tone * env * 6000).astype(np.int16)


def _frame(pcm: np.ndarray, pts: int) -> object:
    from pipeline.transports.web.audio import audio_frame

    return audio_frame(pcm.tobytes(), pts)


def _speech(seconds: float) -> np.ndarray:
    """The example call's first seconds of speech, int16 at 48 kHz."""
    with wave.open(str(SPEECH), "rb") as w:
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    mono = pcm.reshape(-1, channels)[:, 0]
    return np.asarray(soxr.resample(mono, rate, 48000), dtype=np.int16)[:int(48000 * seconds)]


def test_encoded_frames_decode_back_to_the_signal() -> None:
    x = _speech(5.0)
    encoder, decoder = OpusEncoder(), OpusDecoder()
    out = []
    for k in range(len(x) // FRAME_SAMPLES):
        packet = encoder.encode(_frame(x[k * FRAME_SAMPLES:(k + 1) * FRAME_SAMPLES],
                                       k * FRAME_SAMPLES))  # type: ignore[arg-type]
        assert packet.pts == k * FRAME_SAMPLES and packet.time_base == Fraction(1, 48000)
        pcm = decoder.decode(bytes(packet))
        assert [len(p) for p in pcm] == [2 * FRAME_SAMPLES]
        out.append(np.frombuffer(pcm[0], dtype="<i2"))
    y = np.concatenate(out).astype(np.float64)
    ref = x.astype(np.float64)
    # libopus delays its output by its look-ahead: compare at the best lag.
    span = slice(48000, 200000)  # speech, past the first second
    best = max(np.corrcoef(ref[span], y[span.start + d:span.stop + d])[0, 1]
               for d in range(400))
    assert best >= 0.9, best
    assert decoder.errors == 0


def test_a_packet_that_is_not_opus_is_counted_and_the_next_still_decodes() -> None:
    encoder, decoder = OpusEncoder(), OpusDecoder()
    good = bytes(encoder.encode(_frame(_voice_like(0.02), 0)))  # type: ignore[arg-type]
    assert decoder.decode(b"\xff" * 3) == []
    assert decoder.errors == 1
    assert len(decoder.decode(good)) == 1


def test_the_track_gives_aiortc_packets_of_what_it_dequeued() -> None:
    async def run() -> list[bytes]:
        now = FakeNow(0)
        track = AgentTrack(0, FrameClock(-FRAME_NS // 2, now))
        x = _voice_like(0.1)
        decoder, out = OpusDecoder(), []
        for k in range(5):
            track.push(k, 48000, x[k * FRAME_SAMPLES:(k + 1) * FRAME_SAMPLES].tobytes())
            packet = await track.recv()
            assert packet.pts == k * FRAME_SAMPLES
            out += decoder.decode(bytes(packet))
            now.ns += FRAME_NS
        track.stop()
        return out

    out = asyncio.run(run())
    levels = [np.abs(np.frombuffer(p, dtype="<i2")).mean() for p in out]
    assert len(out) == 5 and min(levels[1:]) > 500  # speech, not the silence frames
