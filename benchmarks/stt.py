"""Speech-recognition candidates on the bundled requests: WER, real-time factor, memory.

    .venv/bin/python benchmarks/stt.py [--json out.json] [NAME ...]

Each recognizer runs in its own child process so its memory is measured alone:
RSS after loading and after decoding everything, minus RSS before loading.
RTF is decode wall time / audio duration on this CPU (lower is faster). Three
passes: one-shot (whole file in one ``feed``, then ``finish``), streaming (50 ms
chunks with partial decodes, as the live server runs it) and streaming with the
agent hints of ``tests/models/test_stt.py``. WER is corpus-level after
normalization (see ``word_error_rate``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHUNK = 800  # 50 ms at 16 kHz


def measure(name: str) -> dict[str, Any]:
    """Run in the child: load ``name`` and decode every request three ways."""
    import psutil

    from pipeline.model_server.speech.stt import load_recognizer
    from pipeline.model_server.speech.stt.word_error_rate import word_error_rate
    from tests.models.test_stt import AGENT_HINTS, load_requests

    requests = load_requests()
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    recognizer = load_recognizer(name)
    load_s = time.perf_counter() - t0
    rss_loaded = proc.memory_info().rss

    audio_s = sum(len(pcm) for _, _, pcm in requests) / recognizer.sample_rate
    runs = {"one_shot": ((), False), "stream": ((), True), "stream_hints": (AGENT_HINTS, True)}
    out: dict[str, Any] = {"name": recognizer.name}
    for run, (hints, chunked) in runs.items():
        pairs = []
        elapsed = 0.0
        for _, text, pcm in requests:
            t0 = time.perf_counter()
            stream = recognizer.open_stream(hints)
            for start in range(0, len(pcm), CHUNK if chunked else len(pcm)):
                stream.feed(pcm[start : start + (CHUNK if chunked else len(pcm))])
                stream.partial()
            pairs.append((text, stream.finish()))
            elapsed += time.perf_counter() - t0
        out[f"wer_{run}"] = round(word_error_rate(pairs), 4)
        out[f"rtf_{run}"] = round(elapsed / audio_s, 4)
        out[f"hypotheses_{run}"] = [h for _, h in pairs]
    out |= {
        "load_s": round(load_s, 3),
        "rss_load_mb": round((rss_loaded - rss0) / 2**20, 1),
        "rss_peak_mb": round((proc.memory_info().rss - rss0) / 2**20, 1),
        "audio_s": round(audio_s, 2),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    from pipeline.model_server.speech.stt import RECOGNIZER_NAMES

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", default=[n for n in RECOGNIZER_NAMES if n != "default"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.names[0])))
        return 0

    results = []
    for name in args.names:
        child = subprocess.run(
            [sys.executable, __file__, "--child", name], capture_output=True, text=True, check=True
        )
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    columns = (
        ("WER 1-shot", "wer_one_shot", "{:.1%}"),
        ("WER stream", "wer_stream", "{:.1%}"),
        ("WER +hints", "wer_stream_hints", "{:.1%}"),
        ("RTF 1-shot", "rtf_one_shot", "{:.3f}"),
        ("RTF stream", "rtf_stream", "{:.3f}"),
        ("load s", "load_s", "{:.2f}"),
        ("RSS load MB", "rss_load_mb", "{:.0f}"),
        ("RSS peak MB", "rss_peak_mb", "{:.0f}"),
    )
    print(f"{'recognizer':20s} " + " ".join(f"{title:>11s}" for title, _, _ in columns))
    for r in results:
        cells = " ".join(f"{fmt.format(r[key]):>11s}" for _, key, fmt in columns)
        print(f"{r['name']:20s} {cells}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
