"""How a 10 ms audio frame should ride a data hop, measured here in one run.

Two processes, PUSH -> PULL over ipc://, 960 B of PCM (10 ms, 48 kHz mono
int16) per message, two framings:

* embed:     one msgpack frame, ``CaptureFrame`` with the PCM inside (what voxpipe uses)
* multipart: ``[header, pcm]``, a msgpack header and the raw PCM as a second part

Prints messages/s of each (median of reps) and the ratio, as JSON and a table.

    python benchmarks/ipc_framing.py --messages 200000 --reps 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ipc.schema import CaptureFrame, data_decoder, data_encoder

PCM = bytes(960)


class Header(msgspec.Struct, array_like=True):
    session: str
    seq: int
    sample_rate: int
    channels: int
    capture_ns: int


def _receiver(endpoint: str, n: int, framing: str, ready: mp.Event) -> None:  # type: ignore[type-arg]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.setsockopt(zmq.RCVHWM, 100_000)
    sock.bind(endpoint)
    ready.set()
    hdr_decoder = msgspec.msgpack.Decoder(Header)
    for _ in range(n):
        if framing == "embed":
            msg = data_decoder.decode(sock.recv())
            assert len(msg.pcm) == 960  # type: ignore[union-attr]
        else:
            head, pcm = sock.recv_multipart()
            hdr_decoder.decode(head)
            assert len(pcm) == 960
    sock.close(linger=0)
    ctx.term()


def measure(framing: str, n: int) -> float:
    endpoint = f"ipc://{tempfile.mkdtemp(prefix='vp-ipc-')}/bench"
    ready = mp.Event()
    proc = mp.Process(target=_receiver, args=(endpoint, n, framing, ready))
    proc.start()
    ready.wait(10)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.setsockopt(zmq.SNDHWM, 100_000)
    sock.connect(endpoint)
    hdr_encoder = msgspec.msgpack.Encoder()
    t0 = time.perf_counter()
    for seq in range(n):
        ns = time.monotonic_ns()
        if framing == "embed":
            sock.send(data_encoder.encode(CaptureFrame("s1", seq, 48000, 1, PCM, ns)))
        else:
            sock.send_multipart([hdr_encoder.encode(Header("s1", seq, 48000, 1, ns)), PCM])
    proc.join()
    elapsed = time.perf_counter() - t0
    sock.close(linger=0)
    ctx.term()
    return n / elapsed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=200_000)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    result: dict[str, object] = {"messages": args.messages, "reps": args.reps}
    rates: dict[str, list[float]] = {"embed": [], "multipart": []}
    for _ in range(args.reps):  # interleaved, so machine noise hits both
        for framing in rates:
            rates[framing].append(measure(framing, args.messages))
    med = {k: statistics.median(v) for k, v in rates.items()}
    result.update({f"{k}_msgs_per_s": round(v) for k, v in med.items()})
    result["embed_over_multipart"] = round(med["embed"] / med["multipart"], 2)
    result["loadavg"] = os.getloadavg()
    print(json.dumps(result, indent=1))
    print(f"\n{'framing':12} {'msgs/s (median)':>16}   reps")
    for k, v in rates.items():
        print(f"{k:12} {med[k]:16,.0f}   " + ", ".join(f"{x:,.0f}" for x in v))
    print(f"embed / multipart: x{result['embed_over_multipart']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
