"""What SIP callers actually received, read off the loopback interface.

SIPp cannot record what it hears, so the load test captures the RTP itself: an
``AF_PACKET`` socket on ``lo`` (root only) keeps every UDP datagram, each once (lo
shows a packet twice: outgoing and incoming). Afterwards the packets are grouped into
streams by the edge's media port (one per call, from its SDP answers), and each
stream's audio is rebuilt by RTP timestamp (G.711 decoded, silence where a packet is
missing). A reply is then judged against the turn it echoes: a 20 ms frame of the echo
is glitched when it is silent or its packet never arrived while the turn's frame there
had signal.
"""

from __future__ import annotations

import itertools
import os
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from benchmarks.density_audio import FRAME_MS, ONSET_DBFS
from native.g711 import alaw_decode, ulaw_decode
from tests.transports.web.signal_match import best_match, rms_dbfs

F64 = npt.NDArray[np.float64]
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
RATE = 8000
FRAME = RATE * FRAME_MS // 1000
GAP_DBFS = -60.0  # an echo frame quieter than this where the turn had signal: a glitch
NEEDS_ROOT = ("the loopback RTP capture needs root (an AF_PACKET socket on lo): run the "
              "SIP load test as root, as CI does")


@dataclass(frozen=True)
class Datagram:
    at: float  # capture time (time.monotonic)
    src: int  # UDP ports
    dst: int
    payload: bytes


class LoopbackCapture:
    """Every UDP/IPv4 datagram on ``lo`` while running, each seen once."""

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise PermissionError(NEEDS_ROOT)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE (root)
        self.sock.bind(("lo", ETH_P_ALL))
        self.datagrams: list[Datagram] = []
        self.frames = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lo-capture", daemon=True)

    def __enter__(self) -> LoopbackCapture:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not select.select([self.sock], [], [], 0.1)[0]:
                continue
            data, addr = self.sock.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:  # the same packet comes back in as PACKET_HOST
                continue
            self.frames += 1
            got = parse_udp(data)
            if got is not None:
                self.datagrams.append(Datagram(time.monotonic(), *got))


def parse_udp(frame: bytes) -> tuple[int, int, bytes] | None:
    """(source port, destination port, payload) of an Ethernet/IPv4/UDP frame, else None."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[14] >> 4 != 4:
        return None
    ihl = (frame[14] & 0x0F) * 4
    if frame[23] != socket.IPPROTO_UDP:
        return None
    src, dst, length = struct.unpack_from("!HHH", frame, 14 + ihl)
    start = 14 + ihl + 8
    return src, dst, frame[start: 14 + ihl + length]


@dataclass
class RtpStream:
    """One direction of one call's G.711 RTP, in arrival order."""

    packets: list[tuple[float, int, int, bytes]] = field(default_factory=list)
    pt: int = 0  # packets: (arrival, extended seq, timestamp from the first, payload)
    _ts_base: int = 0

    def add(self, at: float, data: bytes) -> None:
        if len(data) < 12 or data[0] >> 6 != 2 or data[1] & 0x7F not in (0, 8):
            return  # not audio RTP (telephone-event, RTCP, SIP)
        seq, ts = struct.unpack_from("!HI", data, 2)
        skip = 12 + 4 * (data[0] & 0x0F)
        if data[0] & 0x10:  # header extension
            skip += 4 + 4 * struct.unpack_from("!H", data, skip + 2)[0]
        payload = data[skip: len(data) - (data[-1] if data[0] & 0x20 else 0)]
        if self.packets:
            _, seq0, ts0, _ = self.packets[-1]
            seq = seq0 + ((seq - seq0) + 0x8000) % 0x10000 - 0x8000
            ts = ts0 + ((ts - ts0 - self._ts_base) + 0x80000000) % 0x100000000 - 0x80000000
        else:
            self._ts_base = ts
            ts = 0
        self.pt = data[1] & 0x7F
        self.packets.append((at, seq, ts, payload))

    def audio(self) -> F64:
        """The stream's samples by RTP timestamp from its earliest one; zeros where no
        packet arrived."""
        decode = ulaw_decode if self.pt == 0 else alaw_decode
        lo = self._earliest()
        end = max((ts - lo + len(p) for _, _, ts, p in self.packets), default=0)
        out = np.zeros(end)
        for _, _, ts, payload in self.packets:
            at = ts - lo
            out[at: at + len(payload)] = np.frombuffer(decode(payload), "<i2") / 32768.0
        return out

    def _earliest(self) -> int:
        return min((ts for _, _, ts, _ in self.packets), default=0)

    def lost(self) -> list[int]:
        """Where (sample) each packet that never arrived belonged (sequence gaps)."""
        lo = self._earliest()
        got = sorted({(seq, ts - lo) for _, seq, ts, _ in self.packets})
        out = []
        for (s0, t0), (s1, t1) in itertools.pairwise(got):
            out += [t0 + (t1 - t0) * k // (s1 - s0) for k in range(1, s1 - s0)]
        return out

    def loud(self) -> list[float]:
        """Arrival times of the packets whose audio is audible (above ONSET_DBFS)."""
        decode = ulaw_decode if self.pt == 0 else alaw_decode
        return [at for at, _, _, payload in self.packets
                if rms_dbfs(np.frombuffer(decode(payload), "<i2") / 32768.0) > ONSET_DBFS]


def streams(datagrams: list[Datagram], ports: set[int], *, to: bool = False
            ) -> dict[int, RtpStream]:
    """The RTP streams from (``to``: to) each of ``ports`` (the edge's media ports)."""
    out: dict[int, RtpStream] = {}
    for d in datagrams:
        port = d.dst if to else d.src
        if port in ports:
            out.setdefault(port, RtpStream()).add(d.at, d.payload)
    return out


@dataclass(frozen=True)
class ReplyHeard:
    xcorr: float  # the turn against what the caller received
    glitched_frames: int  # 20 ms frames of the echo silent or lost where the turn spoke
    lost_packets: int  # RTP sequence gaps inside the echo
    frames: int  # 20 ms frames of the echo checked
    start_s: float  # where the echo starts in the received stream
    glitched_at: tuple[int, ...]  # which frames of the echo


def reply_heard(stream: RtpStream, turn: F64) -> ReplyHeard:
    """The echo of ``turn`` (8 kHz) in what one caller received, frame by frame."""
    heard = stream.audio()
    xcorr, start = best_match(heard, turn)
    n = len(turn) // FRAME
    glitched = set()
    for k in range(n):
        said = turn[k * FRAME: (k + 1) * FRAME]
        got = heard[start + k * FRAME: start + (k + 1) * FRAME]
        if rms_dbfs(said) > ONSET_DBFS and (len(got) < FRAME or rms_dbfs(got) < GAP_DBFS):
            glitched.add(k)
    lost = [(at - start) // FRAME for at in stream.lost() if start <= at < start + n * FRAME]
    glitched.update(lost)
    return ReplyHeard(xcorr, len(glitched), len(lost), n, start / RATE, tuple(sorted(glitched)))
