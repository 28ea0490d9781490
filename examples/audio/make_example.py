"""Generate the bundled example recordings (run once by hand; the outputs are committed).

    .venv/bin/python examples/audio/make_example.py

Needs espeak-ng on PATH; nothing at run or test time does. Writes:

- ``three_turns.wav``: 16 kHz mono int16, three user requests. Speech starts at
  1.0 s; after each turn there is room for an agent to echo it back
  (0.6 s + the turn's duration + 2.0 s) before the next one starts.
- ``one_turn_48k_stereo.wav``: 48 kHz stereo float32, one request, to exercise
  the other input formats (speech at 0.5 s, echo room with a 0.5 s margin).

and a ``.json`` beside each with the sample rate and, per turn, the text and
the speech onset/offset in seconds, measured on the TTS output (first/last
sample above -50 dBFS), not guessed. A seeded white-noise floor at -65 dBFS keeps
the files from being digital silence.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from pipeline.record.wav_writer import write_wav  # noqa: E402
from pipeline.transports.file.wav_reader import WavSource  # noqa: E402

THREE_TURNS = (
    "Hello, can you hear me?",
    "What is the weather like in Paris today?",
    "Thank you, that is all for now.",
)
ONE_TURN = "What time is it?"

LEAD_S = 1.0
ECHO_ROOM_S = 0.6  # the agent's response latency allowance
MARGIN_S = 2.0
SPEECH_DBFS = -50.0
NOISE_DBFS = -65.0
EDGE_S = 0.05  # keep this much of the TTS's own silence around each utterance
SEED = 20240501

FloatArray = npt.NDArray[np.float64]


def speak(text: str, rate: int) -> FloatArray:
    """espeak-ng's rendering of ``text`` as float64 in [-1, 1] at ``rate`` Hz."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "tts.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "-w", str(wav), text], check=True)
        with WavSource.open(wav) as src:
            pcm = np.frombuffer(src.read_s16(0, src.frames), dtype="<i2")
            tts_rate = src.sample_rate
    x = pcm.astype(np.float64) / 32768.0
    return np.asarray(soxr.resample(x, tts_rate, rate, quality="HQ"), dtype=np.float64)


def speech_span(x: FloatArray) -> tuple[int, int]:
    """Index of the first sample above -50 dBFS and one past the last."""
    above = np.flatnonzero(np.abs(x) > 10 ** (SPEECH_DBFS / 20))
    if above.size == 0:
        raise RuntimeError("TTS produced no audible samples")
    return int(above[0]), int(above[-1]) + 1


def trimmed(x: FloatArray, rate: int) -> tuple[FloatArray, int, int]:
    """``x`` cut to its speech span plus EDGE_S each side; returns (clip, onset, offset)."""
    on, off = speech_span(x)
    edge = round(EDGE_S * rate)
    start, stop = max(0, on - edge), min(len(x), off + edge)
    clip = x[start:stop]
    return clip, on - start, off - start


def lay_out(
    texts: tuple[str, ...], rate: int, lead_s: float, margin_s: float, min_s: float
) -> tuple[FloatArray, list[dict[str, Any]]]:
    """Place each utterance on a timeline; returns the mono signal and per-turn facts."""
    placed: list[tuple[int, FloatArray]] = []
    turns: list[dict[str, Any]] = []
    onset_s = lead_s
    for text in texts:
        clip, on, off = trimmed(speak(text, rate), rate)
        onset = round(onset_s * rate)
        placed.append((onset - on, clip))
        offset = onset + (off - on)
        duration_s = (off - on) / rate
        if not min_s <= duration_s <= 2.5:
            raise RuntimeError(f"{text!r}: {duration_s:.2f} s of speech, want {min_s}..2.5 s")
        turns.append(
            {
                "text": text,
                "onset_s": round(onset / rate, 4),
                "offset_s": round(offset / rate, 4),
                "duration_s": round(duration_s, 4),
            }
        )
        onset_s = offset / rate + ECHO_ROOM_S + duration_s + margin_s
    total = round(onset_s * rate)  # the last turn gets its echo room too
    out = np.zeros(total, dtype=np.float64)
    for start, clip in placed:
        out[start : start + len(clip)] += clip
    return out, turns


def noise_floor(shape: tuple[int, ...], rng: np.random.Generator) -> FloatArray:
    return rng.standard_normal(shape) * 10 ** (NOISE_DBFS / 20)


def write_float32_wav(path: Path, x: FloatArray, rate: int) -> None:
    """WAVE_FORMAT_IEEE_FLOAT with a fact chunk, as float writers produce it."""
    frames, channels = x.shape
    data = np.ascontiguousarray(x, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHHH", 3, channels, rate, rate * channels * 4, channels * 4, 32, 0)
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<II", 4, frames)
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def write_meta(path: Path, rate: int, channels: int, fmt: str, turns: list[dict[str, Any]]) -> None:
    meta = {
        "sample_rate": rate,
        "channels": channels,
        "sample_format": fmt,
        "speech_threshold_dbfs": SPEECH_DBFS,
        "noise_floor_dbfs": NOISE_DBFS,
        "turns": turns,
    }
    path.write_text(json.dumps(meta, indent=2) + "\n")


def main() -> int:
    rng = np.random.default_rng(SEED)

    rate = 16_000
    mono, turns = lay_out(THREE_TURNS, rate, LEAD_S, MARGIN_S, min_s=1.0)
    mono = mono + noise_floor(mono.shape, rng)
    pcm = np.clip(np.rint(mono * 32767.0), -32768, 32767).astype(np.int16)
    write_wav(HERE / "three_turns.wav", pcm, rate)
    write_meta(HERE / "three_turns.json", rate, 1, "pcm_s16", turns)

    rate = 48_000
    # float32 stereo at 48 kHz costs 384 kB/s, so this one is kept tight.
    mono, turns = lay_out((ONE_TURN,), rate, lead_s=0.5, margin_s=0.5, min_s=0.5)
    # Right channel a little quieter, so a downmix bug cannot hide behind identical channels.
    stereo = np.stack([mono, 0.8 * mono], axis=1) + noise_floor((len(mono), 2), rng)
    write_float32_wav(HERE / "one_turn_48k_stereo.wav", stereo, rate)
    write_meta(HERE / "one_turn_48k_stereo.json", rate, 2, "float32", turns)

    for name in ("three_turns", "one_turn_48k_stereo"):
        meta = json.loads((HERE / f"{name}.json").read_text())
        size = (HERE / f"{name}.wav").stat().st_size
        print(f"{name}.wav: {size} bytes")
        for t in meta["turns"]:
            span = f"{t['onset_s']:8.4f} .. {t['offset_s']:8.4f} s"
            print(f"  {span} ({t['duration_s']:.3f} s) {t['text']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
