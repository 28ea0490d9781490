"""Generate the bundled speech-recognition requests (run once by hand; outputs are committed).

    .venv/bin/python examples/audio/make_requests.py

Needs espeak-ng on PATH; nothing at run or test time does. Writes one
``requests/<name>.wav`` per request (16 kHz mono pcm16: 0.5 s of silence, the
speech, 1.0 s of silence) and ``requests/requests.json`` with the exact text,
voice, speed and measured speech span of each. Voices and speeds vary a little
so a recognizer is not tuned to one rendering. A seeded noise floor at -65 dBFS
keeps the files from being digital silence.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

HERE = Path(__file__).resolve().parent
OUT = HERE / "requests"
sys.path.insert(0, str(HERE.parents[1]))

from pipeline.record.wav_writer import write_wav  # noqa: E402
from pipeline.transports.file.wav_reader import WavSource  # noqa: E402

RATE = 16_000
LEAD_S = 0.5
TAIL_S = 1.0
SPEECH_DBFS = -50.0
NOISE_DBFS = -65.0
SEED = 20261125


@dataclass(frozen=True)
class Request:
    name: str
    text: str
    voice: str  # espeak-ng voice, optionally with a +variant
    speed: int  # words per minute


REQUESTS = (
    Request("weather_paris", "What's the weather in Paris?", "en-us", 165),
    Request("weather_tokyo", "What is the weather like in Tokyo today?", "en-us+m3", 175),
    Request("timer_five", "Set a timer for five minutes.", "en-us+f2", 160),
    Request("book_table", "Book a table for two at eight.", "en-us", 155),
    Request("kitchen_lights", "Turn on the kitchen lights.", "en-us+m1", 165),
    Request("hello", "Hello, can you hear me?", "en-us+f3", 165),
    Request("your_name", "What is your name?", "en-us", 140),
    Request("thanks", "Thank you, that is all for now.", "en-us+m3", 160),
    Request("weather_london", "Will it rain in London tomorrow?", "en-us+f2", 165),
    Request("timer_ten", "Set a timer for ten seconds.", "en-us+m1", 170),
    Request("lights_off", "Please turn off the bedroom lights.", "en-us", 165),
)


def speak(req: Request) -> npt.NDArray[np.float64]:
    """espeak-ng's rendering of the request, as float64 in [-1, 1] at RATE."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "tts.wav"
        cmd = ["espeak-ng", "-v", req.voice, "-s", str(req.speed), "-w", str(wav), req.text]
        subprocess.run(cmd, check=True)
        with WavSource.open(wav) as src:
            pcm = np.frombuffer(src.read_s16(0, src.frames), dtype="<i2")
            tts_rate = src.sample_rate
    x = pcm.astype(np.float64) / 32768.0
    return np.asarray(soxr.resample(x, tts_rate, RATE, quality="HQ"), dtype=np.float64)


def speech_only(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``x`` cut to the first..last sample above SPEECH_DBFS (espeak pads its own silence)."""
    above = np.flatnonzero(np.abs(x) > 10 ** (SPEECH_DBFS / 20))
    if above.size == 0:
        raise RuntimeError("TTS produced no audible samples")
    return x[int(above[0]) : int(above[-1]) + 1]


def render(req: Request, rng: np.random.Generator) -> tuple[npt.NDArray[np.int16], float]:
    speech = speech_only(speak(req))
    duration_s = len(speech) / RATE
    if not 0.9 <= duration_s <= 3.0:
        raise RuntimeError(f"{req.text!r}: {duration_s:.2f} s of speech, want 0.9..3 s")
    lead, tail = round(LEAD_S * RATE), round(TAIL_S * RATE)
    x = np.concatenate([np.zeros(lead), speech, np.zeros(tail)])
    x += rng.standard_normal(len(x)) * 10 ** (NOISE_DBFS / 20)
    return np.clip(np.rint(x * 32767.0), -32768, 32767).astype(np.int16), duration_s


def main() -> int:
    rng = np.random.default_rng(SEED)
    OUT.mkdir(exist_ok=True)
    entries: list[dict[str, Any]] = []
    for req in REQUESTS:
        pcm, duration_s = render(req, rng)
        write_wav(OUT / f"{req.name}.wav", pcm, RATE)
        entries.append(
            {
                "file": f"{req.name}.wav",
                "text": req.text,
                "voice": req.voice,
                "speed_wpm": req.speed,
                "onset_s": LEAD_S,
                "offset_s": round(LEAD_S + duration_s, 4),
            }
        )
        print(f"{req.name}.wav  {duration_s:.2f} s  {req.voice:9s} {req.speed}  {req.text}")
    meta = {"sample_rate": RATE, "channels": 1, "sample_format": "pcm_s16", "requests": entries}
    (OUT / "requests.json").write_text(json.dumps(meta, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
