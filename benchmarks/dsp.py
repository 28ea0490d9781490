"""CPU cost of the inbound DSP chain: voxpipe's kernels vs its peers, measured in one run.

The chain: 48 kHz mono int16 10 ms frames -> 24 kHz -> 100 ms chunks -> VAD, on real
speech (``examples/audio/one_turn_48k_stereo.wav``, downmixed once and looped):

* voxpipe:  native InboundChain: resample -> 100 ms chunk ring -> Vad on 10 ms of 24 kHz,
            one call (one nogil section) per 10 ms frame, as the dsp stage calls it.
* kernels:  the same kernels called separately (voxpipe before InboundChain): Resampler ->
            Chunker(100 ms); a second Chunker cuts 10 ms frames at 24 kHz for the Vad.
* livekit:  rtc.AudioResampler (default MEDIUM, as livekit-agents' room input and realtime
            plugins use it) -> AudioByteStream(100 ms); every 24 kHz frame also goes to a
            silero VAD stream (which resamples to 16 kHz itself and infers on its executor).
* plain:    soxr.ResampleStream HQ float32 -> numpy concatenate chunker; webrtcvad mode 3
            on the 48 kHz *input* frames (how the 14.9 us reference figure was taken).
* pipecat:  its SOXR stream resampler (default VHQ) 48 -> 24 kHz -> bytes chunker; a second
            one 48 -> 16 kHz feeds SileroVADAnalyzer (which only takes 8/16 kHz).

Each chain runs in a child process of its own: the cost is that process's CPU clock
(``time.process_time``: every thread, so silero's executor and livekit's FFI runtime
count) over blocks of ``--block-frames`` input frames, divided by the frames in the
block; median and p99 over the blocks, after one second of warm-up. An async chain's
block ends only when its VAD has run every window that block made possible.
Held-back audio (the 48 -> 24 kHz resampler only; the chunker's contents are not
counted): a fresh resampler of the chain is fed an impulse in 10 ms frames; after each
frame at steady state, input fed minus output emitted plus ``impulse_shift`` (where the
impulse came out minus where it went in: a resampler that emits its delay as leading
zeros shifts instead of holding back), in ms; mean and max over frames.
The GIL check runs the voxpipe chain (and its parts) in 1 and 2 threads, beside a
GIL-free control: per 10 ms frame (the verdict: the dsp stage's calls), per 100 ms block
of 10 frames (one call per block), and the separate kernels per frame (before).

    python benchmarks/dsp.py --seconds 30 --json out/bench_dsp.json
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import write_json  # noqa: E402
from native.convert import downmix_s16  # noqa: E402
from pipeline.transports.file.wav_reader import WavSource  # noqa: E402

WAV = ROOT / "examples" / "audio" / "one_turn_48k_stereo.wav"
IN_RATE, OUT_RATE, VAD_RATE = 48_000, 24_000, 16_000
IN_FRAME, OUT_FRAME = IN_RATE // 100, OUT_RATE // 100  # 10 ms
CHUNK = OUT_RATE // 10  # 100 ms
WARMUP_FRAMES = 100
PEERS = ("voxpipe", "kernels", "livekit", "plain", "pipecat")
GOALS = {"livekit": 20.0, "plain": 3.0}  # voxpipe must be this many times cheaper
CHAINS = {
    "voxpipe": "native InboundChain (resample + chunk + Vad@24k) per 10 ms frame",
    "kernels": "native Resampler + Chunker + Vad@24k called separately per 10 ms frame",
    "livekit": "rtc.AudioResampler MEDIUM + AudioByteStream + silero VAD stream",
    "plain": "soxr HQ float32 stream + numpy chunker + webrtcvad mode 3 @48k input",
    "pipecat": "SOXR stream VHQ 48->24k + bytes chunker; SOXR 48->16k + SileroVADAnalyzer",
}

Step = Callable[[bytes], None]
Feed = Callable[[bytes], npt.NDArray[np.int16]]


def load_frames(n_frames: int) -> list[bytes]:
    """The example speech as mono int16 10 ms frames, looped to ``n_frames``."""
    with WavSource.open(WAV) as wav:
        assert wav.sample_rate == IN_RATE, wav
        raw = wav.read_s16(0, wav.frames)
        mono = bytearray(2 * wav.frames)
        downmix_s16(raw, wav.channels, mono)
    pcm = np.resize(np.frombuffer(mono, np.int16), n_frames * IN_FRAME)
    return [pcm[i * IN_FRAME:(i + 1) * IN_FRAME].tobytes() for i in range(n_frames)]


# --- the chains: a step per input frame (async ones also drain), and a resampler feed ---


class VoxpipeChain:
    """The fused kernel, fed one 10 ms frame a call (or a block of frames: ``step`` is
    the same); the Vad's own defaults, so it computes exactly what ``KernelsChain`` does."""

    def __init__(self) -> None:
        from native.inbound_chain import SPEECH_START, InboundChain

        self.chain = InboundChain(IN_RATE, OUT_RATE, vad_min_speech_ms=60,
                                  vad_min_silence_ms=300)
        self.process, self.pop_chunk = self.chain.process, self.chain.pop_chunk
        self.pop_event, self.start_event = self.chain.pop_event, SPEECH_START
        self.chunk = bytearray(2 * CHUNK)
        self.chunks = self.speech_starts = 0

    def step(self, frames: bytes) -> None:
        if self.process(frames):
            while self.pop_chunk(self.chunk):
                self.chunks += 1
        while (event := self.pop_event()) is not None:
            self.speech_starts += event[0] == self.start_event

    @staticmethod
    def feed() -> Feed:
        return KernelsChain.feed()  # the chain's resampler, on its own


class KernelsChain:
    """voxpipe before InboundChain: each kernel called on its own, 3+ calls a frame."""

    def __init__(self) -> None:
        from native.chunker import Chunker
        from native.resample import Resampler
        from native.vad import SPEECH_START, Vad

        self.resampler = Resampler(IN_RATE, OUT_RATE)
        self.out = bytearray(2 * self.resampler.max_output(IN_FRAME))
        self.out_view = memoryview(self.out)
        self.chunker = Chunker(CHUNK, 4 * CHUNK)
        self.vad_frames = Chunker(OUT_FRAME, CHUNK)
        self.chunk, self.vad_frame = bytearray(2 * CHUNK), bytearray(2 * OUT_FRAME)
        self.vad, self.start_event = Vad(OUT_RATE, 10), SPEECH_START
        self.chunks = self.speech_starts = 0

    def step(self, frame: bytes) -> None:
        pcm = self.out_view[: 2 * self.resampler.process_s16(frame, self.out)]
        self.chunker.push(pcm)
        self.vad_frames.push(pcm)
        while self.vad_frames.pop(self.vad_frame):
            if self.vad.process(self.vad_frame) == self.start_event:
                self.speech_starts += 1
        while self.chunker.pop(self.chunk):
            self.chunks += 1

    @staticmethod
    def feed() -> Feed:
        from native.resample import Resampler

        rs = Resampler(IN_RATE, OUT_RATE)
        out = bytearray(2 * rs.max_output(IN_FRAME))
        return lambda f: np.frombuffer(out, np.int16, rs.process_s16(f, out)).copy()


class PlainChain:
    def __init__(self) -> None:
        import soxr
        import webrtcvad

        self.resampler = soxr.ResampleStream(IN_RATE, OUT_RATE, 1, dtype="float32",
                                             quality="HQ")
        self.vad = webrtcvad.Vad(3)
        self.buf, self.chunk = np.zeros(0, np.float32), np.zeros(CHUNK, np.int16)
        self.chunks = self.speech_starts = 0
        self.speaking = False

    def step(self, frame: bytes) -> None:
        x = np.frombuffer(frame, np.int16).astype(np.float32) / 32768.0
        self.buf = np.concatenate((self.buf, self.resampler.resample_chunk(x)))
        while self.buf.size >= CHUNK:
            self.chunk = np.clip(np.rint(self.buf[:CHUNK] * 32768), -32768, 32767).astype(np.int16)
            self.buf = self.buf[CHUNK:]
            self.chunks += 1
        speaking = self.vad.is_speech(frame, IN_RATE)  # raw frame decisions, no hangover
        self.speech_starts += speaking and not self.speaking
        self.speaking = speaking

    @staticmethod
    def feed() -> Feed:
        import soxr

        rs = soxr.ResampleStream(IN_RATE, OUT_RATE, 1, dtype="float32", quality="HQ")
        return lambda f: (rs.resample_chunk(
            np.frombuffer(f, np.int16).astype(np.float32) / 32768.0) * 32768).astype(np.int16)


class LivekitChain:
    """Async: frames go to silero's stream; ``drain`` waits until its windows are done."""

    def __init__(self, frames: Sequence[bytes]) -> None:
        from livekit import rtc
        from livekit.agents.utils.audio import AudioByteStream
        from livekit.agents.vad import VADEventType
        from livekit.plugins import silero

        self.rtc, self.events = rtc, VADEventType
        # Room frames arrive as AudioFrame objects: build them up front, not in the chain.
        self.frames = [rtc.AudioFrame(f, IN_RATE, 1, IN_FRAME) for f in frames]
        self.windows_after = self._expected_windows()
        self.resampler = rtc.AudioResampler(IN_RATE, OUT_RATE)
        self.bstream = AudioByteStream(OUT_RATE, 1, CHUNK)
        self.vad = silero.VAD.load()
        self.chunks = self.speech_starts = self.windows = 0
        self.target = 0

    def _expected_windows(self) -> list[int]:
        """Silero windows (512 samples at 16 kHz) complete after each input frame.

        Rehearsed with twins of both resamplers (silero's is QUICK 24 -> 16 kHz) so
        the timed run knows exactly how long to wait for the VAD to catch up.
        """
        rtc = self.rtc
        main = rtc.AudioResampler(IN_RATE, OUT_RATE)
        quick = rtc.AudioResampler(OUT_RATE, VAD_RATE, quality=rtc.AudioResamplerQuality.QUICK)
        total, after = 0, []
        for frame in self.frames:
            for f in main.push(frame):
                total += sum(g.samples_per_channel for g in quick.push(f))
            after.append(total // 512)
        return after

    async def start(self) -> None:
        self.stream = self.vad.stream()
        self.caught_up = asyncio.Event()
        self.consumer = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for ev in self.stream:
            if ev.type == self.events.INFERENCE_DONE:
                self.windows += 1
                if self.windows >= self.target:
                    self.caught_up.set()
            elif ev.type == self.events.START_OF_SPEECH:
                self.speech_starts += 1

    async def step(self, index: int) -> None:
        for f in self.resampler.push(self.frames[index]):
            self.chunks += len(self.bstream.write(f.data))
            self.stream.push_frame(f)
        await asyncio.sleep(0)  # a room delivers frames one loop turn apart

    async def drain(self, index: int) -> None:
        self.target = self.windows_after[index]
        self.caught_up.clear()
        if self.windows < self.target:
            try:
                await asyncio.wait_for(self.caught_up.wait(), 30)
            except TimeoutError:
                raise RuntimeError(f"silero ran {self.windows} windows, expected "
                                   f"{self.target}: the rehearsal is off") from None

    async def stop(self) -> None:
        await self.stream.aclose()
        await self.consumer

    @staticmethod
    def feed() -> Feed:
        from livekit import rtc

        rs = rtc.AudioResampler(IN_RATE, OUT_RATE)

        def feed(f: bytes) -> npt.NDArray[np.int16]:
            out = [np.asarray(g.data) for g in rs.push(rtc.AudioFrame(f, IN_RATE, 1, IN_FRAME))]
            return np.concatenate([np.zeros(0, np.int16), *out])

        return feed


class PipecatChain:
    """Async like pipecat's input transport: each frame is awaited through VAD's thread."""

    def __init__(self, frames: Sequence[bytes]) -> None:
        from pipecat.audio.resamplers.soxr_stream_resampler import SOXRStreamAudioResampler
        from pipecat.audio.vad.silero import SileroVADAnalyzer
        from pipecat.audio.vad.vad_analyzer import VADState

        self.resampler, self.vad_resampler = SOXRStreamAudioResampler(), \
            SOXRStreamAudioResampler()
        self.vad, self.speaking_state = SileroVADAnalyzer(), VADState.SPEAKING
        self.vad.set_sample_rate(VAD_RATE)  # what pipecat's input transport does at start
        self.frames, self.buf = frames, b""
        self.chunks = self.speech_starts = 0
        self.state: Any = None

    async def start(self) -> None:
        pass

    async def step(self, index: int) -> None:
        frame = self.frames[index]
        self.buf += await self.resampler.resample(frame, IN_RATE, OUT_RATE)
        while len(self.buf) >= 2 * CHUNK:
            self.buf = self.buf[2 * CHUNK:]
            self.chunks += 1
        state = await self.vad.analyze_audio(
            await self.vad_resampler.resample(frame, IN_RATE, VAD_RATE))
        self.speech_starts += state == self.speaking_state != self.state
        self.state = state

    async def drain(self, index: int) -> None:
        pass

    async def stop(self) -> None:
        await self.vad.cleanup()  # type: ignore[no-untyped-call]

    @staticmethod
    def feed() -> Feed:
        from pipecat.audio.resamplers.soxr_stream_resampler import SOXRStreamAudioResampler

        rs, run = SOXRStreamAudioResampler(), asyncio.new_event_loop().run_until_complete
        return lambda f: np.frombuffer(run(rs.resample(f, IN_RATE, OUT_RATE)), np.int16)


# --- measurement ---


def block_stats(us: list[float]) -> dict[str, Any]:
    a = np.asarray(us)
    return {"us_per_frame_median": round(float(np.median(a)), 3),
            "us_per_frame_p99": round(float(np.percentile(a, 99)), 3),
            "us_per_frame_mean": round(float(a.mean()), 3), "blocks": len(us)}


def measure_sync(step: Step, frames: list[bytes], block: int) -> dict[str, Any]:
    for f in frames[:WARMUP_FRAMES]:
        step(f)
    us = []
    for start in range(WARMUP_FRAMES, len(frames) - block + 1, block):
        blk = frames[start:start + block]
        t0 = time.process_time()
        for f in blk:
            step(f)
        us.append((time.process_time() - t0) * 1e6 / block)
    return block_stats(us)


async def measure_async(chain: LivekitChain | PipecatChain, block: int) -> dict[str, Any]:
    await chain.start()
    n = len(chain.frames)
    for i in range(WARMUP_FRAMES):
        await chain.step(i)
    await chain.drain(WARMUP_FRAMES - 1)
    us = []
    for start in range(WARMUP_FRAMES, n - block + 1, block):
        t0 = time.process_time()
        for i in range(start, start + block):
            await chain.step(i)
        await chain.drain(start + block - 1)
        us.append((time.process_time() - t0) * 1e6 / block)
    await chain.stop()
    return block_stats(us)


def held_back(feed: Feed) -> dict[str, float]:
    """Audio a fresh resampler holds back, from an impulse fed as 1 s of 10 ms frames.

    After each frame: input fed minus output emitted, plus the impulse's shift (a
    resampler may emit its delay as leading zeros instead of holding input back).
    """
    pcm = np.zeros(IN_RATE, np.int16)
    at = IN_RATE // 2 + 124  # even: lands on an output sample exactly
    pcm[at] = 16_000
    outs, deficit_ms = [], []
    emitted = 0
    for k in range(100):
        outs.append(feed(pcm[k * IN_FRAME:(k + 1) * IN_FRAME].tobytes()))
        emitted += outs[-1].size
        if k >= 20:  # past the start-up transient
            deficit_ms.append((k + 1) * 10.0 - emitted * 1000.0 / OUT_RATE)
    came_out = int(np.argmax(np.abs(np.concatenate(outs).astype(np.int32))))
    shift_ms = came_out * 1000.0 / OUT_RATE - at * 1000.0 / IN_RATE
    return {"held_back_ms": round(float(np.mean(deficit_ms)) + shift_ms, 3),
            "held_back_max_ms": round(float(np.max(deficit_ms)) + shift_ms, 3),
            "impulse_shift_ms": round(shift_ms, 3)}


def _repeat(fn: Callable[..., object], calls: list[tuple[Any, ...]],
            iterations: int) -> Callable[[], None]:
    def work() -> None:
        n = len(calls)
        for i in range(iterations):
            fn(*calls[i % n])

    return work


def gil_check(frames: list[bytes], reps: int = 5) -> dict[str, Any]:
    """Throughput of 2 threads over 1, best of ``reps`` interleaved pairs, per workload.

    ``chain`` (InboundChain, one call per 10 ms frame, as the dsp stage runs it) is the
    verdict. ``chain_100ms`` calls it once per 10 frames: the same work with a tenth of
    the GIL hand-offs. ``kernels`` is the separate-kernel chain (3+ calls a frame). The
    parts show where scaling is lost: each 10 ms call is a few microseconds, so two
    threads pay a GIL hand-off per call; the resampler fed 1 s per call shows the kernel
    itself runs without the GIL. The control (sha256 of 64 KiB, surely GIL-free) tells
    whether a second core was free at all.
    """
    from benchmarks.gil_scaling import wall_time
    from native.resample import Resampler
    from native.vad import Vad

    blocks = [b"".join(frames[i:i + 10]) for i in range(0, len(frames) - 9, 10)]

    def chain(n: int) -> Callable[[], None]:
        return _repeat(VoxpipeChain().step, [(f,) for f in frames], n)

    def chain_100ms(n: int) -> Callable[[], None]:
        return _repeat(VoxpipeChain().step, [(b,) for b in blocks], n)

    def kernels(n: int) -> Callable[[], None]:
        return _repeat(KernelsChain().step, [(f,) for f in frames], n)

    def resampler(n: int) -> Callable[[], None]:
        rs = Resampler(IN_RATE, OUT_RATE)
        out = bytearray(2 * rs.max_output(IN_RATE))
        return _repeat(rs.process_s16, [(f, out) for f in frames], n)

    def resampler_1s(n: int) -> Callable[[], None]:
        rs = Resampler(IN_RATE, OUT_RATE)
        out = bytearray(2 * rs.max_output(IN_RATE))
        return _repeat(rs.process_s16, [(b"".join(frames[:100]), out)], n)

    def vad(n: int) -> Callable[[], None]:
        return _repeat(Vad(OUT_RATE, 10).process, [(f[:2 * OUT_FRAME],) for f in frames], n)

    def control(n: int) -> Callable[[], None]:
        return _repeat(hashlib.sha256, [(bytes(65536),)], n)

    makers = {"chain": chain, "chain_100ms": chain_100ms, "kernels": kernels,
              "resampler_10ms": resampler, "resampler_1s": resampler_1s, "vad_10ms": vad,
              "control": control}
    iterations = dict.fromkeys(makers, 16)
    for name, make in makers.items():
        while wall_time([make(iterations[name])]) < 0.1:
            iterations[name] *= 2
    one, two = dict.fromkeys(makers, math.inf), dict.fromkeys(makers, math.inf)
    for _ in range(reps):  # interleaved, so machine noise hits all alike
        for name, make in makers.items():
            one[name] = min(one[name], wall_time([make(iterations[name])]))
            two[name] = min(two[name], wall_time([make(iterations[name]) for _ in "ab"]))
    ratio = {name: round(2 * one[name] / two[name], 3) for name in makers}
    passed = ratio["chain"] >= 1.7
    verdict = "pass" if passed else "fail" if ratio["control"] >= 1.7 else \
        "inconclusive: the control could not scale either (no free second core)"
    whole = ("chain", "chain_100ms", "kernels", "control")
    return {"two_thread_ratio": ratio["chain"], "control_ratio": ratio["control"],
            "two_thread_ratio_100ms_blocks": ratio["chain_100ms"],
            "two_thread_ratio_separate_kernels": ratio["kernels"],
            "parts": {k: v for k, v in ratio.items() if k not in whole},
            "required": 1.7, "passed": passed, "verdict": verdict,
            "loadavg_1min": round(os.getloadavg()[0], 2)}


def run_child(name: str, seconds: float, block: int, gil_reps: int) -> dict[str, Any]:
    frames = load_frames(WARMUP_FRAMES + round(seconds * 100))
    if name == "gil":
        return gil_check(frames, gil_reps)
    result: dict[str, Any]
    counters: VoxpipeChain | KernelsChain | PlainChain | LivekitChain | PipecatChain
    if name == "voxpipe":
        vox = VoxpipeChain()
        result, counters, feed = measure_sync(vox.step, frames, block), vox, vox.feed()
        result["api_held_back_ms"] = round(vox.chain.held_back * 1000 / IN_RATE, 3)
        result["api_delay_ms"] = round(float(vox.chain.delay_ms), 3)
    elif name == "kernels":
        kern = KernelsChain()
        result, counters, feed = measure_sync(kern.step, frames, block), kern, kern.feed()
    elif name == "plain":
        plain = PlainChain()
        result, counters, feed = measure_sync(plain.step, frames, block), plain, plain.feed()
    elif name in ("livekit", "pipecat"):
        chain = LivekitChain(frames) if name == "livekit" else PipecatChain(frames)
        result, counters, feed = asyncio.run(measure_async(chain, block)), chain, chain.feed()
    else:
        raise ValueError(f"unknown chain {name!r}")
    result.update(held_back(feed))
    result["chunks"], result["speech_starts"] = counters.chunks, counters.speech_starts
    return result


def spawn(name: str, seconds: float, block: int, gil_reps: int = 5) -> dict[str, Any]:
    """Run one chain in a fresh process; a peer that is missing or fails is skipped."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--child", name, "--child-out", str(out),
               "--seconds", str(seconds), "--block-frames", str(block),
               "--gil-reps", str(gil_reps)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                                  check=False)
        except subprocess.TimeoutExpired:
            return {"skipped": "timed out after 900 s"}
        if proc.returncode != 0 or not out.exists():
            lines = proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"]
            return {"skipped": lines[-1][:300]}
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def child_main(name: str, out: Path, seconds: float, block: int, gil_reps: int) -> int:
    try:
        result = run_child(name, seconds, block, gil_reps)
    except ImportError as exc:
        fix = ("python setup.py build_ext --inplace" if name in ("voxpipe", "kernels", "gil")
               else "pip install -e '.[bench]'")
        result = {"skipped": f"not importable: {exc} ({fix})"}
    out.write_text(json.dumps(result))
    return 0


def report(results: dict[str, Any], gil: dict[str, Any]) -> None:
    base = results.get("voxpipe", {}).get("us_per_frame_median")
    head = (f"{'chain':<9}{'median us':>10}{'p99 us':>9}{'x voxpipe':>10}{'held ms':>9}"
            f"{'max ms':>8}{'shift ms':>9}{'chunks':>8}{'starts':>7}")
    print("CPU per 10 ms 48 kHz input frame (whole process, all threads)")
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        if "skipped" in r:
            print(f"{name:<9}skipped: {r['skipped']}")
            continue
        ratio = f"{r['ratio_to_voxpipe']:.1f}x" if r.get("ratio_to_voxpipe") else "-"
        print(f"{name:<9}{r['us_per_frame_median']:>10.2f}{r['us_per_frame_p99']:>9.2f}"
              f"{ratio:>10}{r['held_back_ms']:>9.2f}{r['held_back_max_ms']:>8.2f}"
              f"{r['impulse_shift_ms']:>9.2f}{r['chunks']:>8}{r['speech_starts']:>7}")
    if "two_thread_ratio" in gil:
        print(f"GIL check: 2 threads give x{gil['two_thread_ratio']:.2f} the throughput of 1, "
              f"InboundChain per 10 ms frame (>= 1.7; GIL-free control "
              f"x{gil['control_ratio']:.2f}, load {gil['loadavg_1min']}): {gil['verdict']}")
        print(f"  InboundChain per 100 ms block (10 frames a call): "
              f"x{gil['two_thread_ratio_100ms_blocks']:.2f}; separate kernels per 10 ms frame "
              f"(before): x{gil['two_thread_ratio_separate_kernels']:.2f}")
        print("  parts: " + ", ".join(f"{k} x{v:.2f}" for k, v in gil["parts"].items()))
    elif gil:
        print(f"GIL check skipped: {gil.get('skipped')}")
    for peer, goal in GOALS.items():
        r = results.get(peer, {})
        if base and "ratio_to_voxpipe" in r:
            ok = "met" if r["ratio_to_voxpipe"] >= goal else "NOT met"
            print(f"goal voxpipe >= {goal:g}x cheaper than {peer}: "
                  f"{r['ratio_to_voxpipe']:.1f}x, {ok}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="timed audio per chain")
    ap.add_argument("--peers", default=",".join(PEERS), help="comma-separated subset of "
                    + ",".join(PEERS))
    ap.add_argument("--block-frames", type=int, default=100, help="frames per timed block")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--gil-reps", type=int, default=5,
                    help="interleaved 1/2-thread pairs of the GIL check (best counts)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    block = max(1, min(args.block_frames, round(args.seconds * 100)))
    if args.child:
        return child_main(args.child, args.child_out, args.seconds, block, args.gil_reps)
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = set(peers) - set(PEERS)
    if unknown:
        ap.error(f"unknown peers {sorted(unknown)}; choose from {','.join(PEERS)}")
    load_at_start = round(os.getloadavg()[0], 2)  # other processes inflate CPU time too
    results = {}
    for name in peers:
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        results[name] = {"chain": CHAINS[name], **spawn(name, args.seconds, block)}
    base = results.get("voxpipe", {}).get("us_per_frame_median")
    for r in results.values():
        if base and "us_per_frame_median" in r:
            r["ratio_to_voxpipe"] = round(r["us_per_frame_median"] / base, 2)
    gil: dict[str, Any] = {}
    if "voxpipe" in peers:
        print("measuring GIL release (voxpipe chain, 1 vs 2 threads) ...", file=sys.stderr,
              flush=True)
        gil = spawn("gil", args.seconds, block, args.gil_reps)
    doc = {
        "config": {"seconds": args.seconds, "block_frames": block,
                   "warmup_frames": WARMUP_FRAMES, "in_rate": IN_RATE, "out_rate": OUT_RATE,
                   "chunk_ms": 100, "frame_ms": 10, "audio": str(WAV.relative_to(ROOT)),
                   "cpu_clock": "time.process_time per block / frames in block",
                   "python": platform.python_version(), "cpus": os.cpu_count(),
                   "loadavg_1min_at_start": load_at_start},
        "chains": results,
        "gil": gil,
    }
    report(results, gil)
    write_json(doc, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
