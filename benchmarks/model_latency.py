"""Offline model reply latency: end of the user's speech to the model's first audio.

Starts `voxpipe model-server --engine dialogue` as a child process, then for
each concurrency level opens that many websocket sessions, each streaming the
bundled spoken requests (`examples/audio/requests/*.wav`, resampled to 24 kHz)
in real time, in 20 ms appends, with 1 s of silence after each. For every turn
it measures, at the client, `input_audio_buffer.speech_stopped` -> first
`response.output_audio.delta` (the VAD's silence window lies before
speech_stopped and is not counted). No tools are declared, so every turn is
answered in speech (a one-sentence "You said: ..." or a rule's answer).

Prints a table and JSON (p50/p99/max per level).

    python benchmarks/model_latency.py --sessions 1 10
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ipc.stats import percentiles  # noqa: E402
from pipeline.model_server.launcher import ModelServerProcess  # noqa: E402

SR = 24_000
CHUNK_MS = 20
TAIL_S = 1.0
TARGET_P50_MS = 300.0
REQUESTS = ROOT / "examples" / "audio" / "requests"


def load_requests(limit: int | None) -> list[tuple[str, npt.NDArray[np.int16]]]:
    """The bundled requests as (text, 24 kHz pcm with a silent tail)."""
    meta = json.loads((REQUESTS / "requests.json").read_text())
    out = []
    for req in meta["requests"][:limit]:
        with wave.open(str(REQUESTS / req["file"])) as w:
            raw = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
            rate = w.getframerate()
        pcm = soxr.resample(raw, rate, SR).astype(np.int16)
        tail = np.zeros(round(TAIL_S * SR), dtype=np.int16)
        out.append((str(req["text"]), np.concatenate([pcm, tail])))
    return out


async def _client(url: str, requests: list[tuple[str, npt.NDArray[np.int16]]], delay_s: float,
                  latencies_us: list[int], replies: list[str]) -> None:
    await asyncio.sleep(delay_s)
    async with connect(url, max_size=None) as ws:
        events: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()

        async def receive() -> None:
            async for message in ws:
                events.put_nowait((time.perf_counter(), json.loads(message)))

        receiver = asyncio.create_task(receive())
        step = SR * CHUNK_MS // 1000
        try:
            for _text, pcm in requests:
                t0 = time.perf_counter()
                for k, i in enumerate(range(0, pcm.size, step)):
                    audio = base64.b64encode(pcm[i : i + step].tobytes()).decode()
                    await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                              "audio": audio}))
                    await asyncio.sleep(max(0.0, t0 + (k + 1) * CHUNK_MS / 1000
                                            - time.perf_counter()))
                stopped: float | None = None
                while True:
                    t, event = await asyncio.wait_for(events.get(), 30)
                    if event["type"] == "input_audio_buffer.speech_stopped":
                        stopped = t
                    elif event["type"] == "response.output_audio.delta" and stopped is not None:
                        latencies_us.append(round((t - stopped) * 1e6))
                        stopped = None
                    elif event["type"] == "response.output_audio_transcript.done":
                        replies.append(event["transcript"])
                    elif event["type"] == "response.done":
                        break
        finally:
            receiver.cancel()


async def run_level(url: str, sessions: int, requests: list[tuple[str, npt.NDArray[np.int16]]]
                    ) -> dict[str, Any]:
    latencies: list[int] = []
    replies: list[str] = []
    # Staggered starts, so the sessions' turns do not end in lockstep.
    stagger = 3.0 / max(1, sessions)
    await asyncio.gather(*(_client(url, requests, i * stagger, latencies, replies)
                           for i in range(sessions)))
    stats = percentiles(latencies)
    return {"sessions": sessions, "turns": stats["n"], **{k: round(v, 1) for k, v in
                                                          stats.items() if k != "n"},
            "sample_replies": replies[: len(requests)]}


async def main_async(levels: list[int], limit: int | None) -> dict[str, Any]:
    requests = load_requests(limit)
    server = ModelServerProcess(["--engine", "dialogue"], start_timeout_s=60.0)
    url = await asyncio.to_thread(server.start)
    try:
        results = [await run_level(url, n, requests) for n in levels]
    finally:
        server.stop()
    return {"metric": "speech_stopped -> first response.output_audio.delta",
            "target_p50_ms": TARGET_P50_MS, "requests": len(requests), "levels": results}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, nargs="+", default=[1, 10],
                   help="concurrency levels (default 1 10)")
    p.add_argument("--requests", type=int, default=None,
                   help="use only the first N bundled requests per session")
    p.add_argument("--json", type=Path, help="also write the JSON here")
    args = p.parse_args()
    result = asyncio.run(main_async(args.sessions, args.requests))
    print(f"{'sessions':>8} {'turns':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for level in result["levels"]:
        print(f"{level['sessions']:>8} {level['turns']:>6} {level['p50_ms']:>8.1f} "
              f"{level['p99_ms']:>8.1f} {level['max_ms']:>8.1f}")
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
