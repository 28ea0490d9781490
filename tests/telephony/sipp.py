"""SIPp (Debian ``sip-tester``) as a subprocess: one scenario file, one call, its trace.

Each run binds 127.0.0.1 only (signalling and media ports chosen free here), writes
its message trace into its own directory, and returns the exit code (0: every call
went as the scenario says) with the messages it sent and received, so a test can
assert what SIPp saw beyond what the scenario itself checks.
"""

from __future__ import annotations

import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).with_name("scenarios")
_MEDIA = re.compile(r"^m=audio (\d+) ", re.M)
_ENTRY = re.compile(r"^UDP message (sent|received) .*?:\n(.*?)(?=\n-{20,} |\Z)", re.S | re.M)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SippRun:
    returncode: int
    messages: list[tuple[str, str]]  # ("sent" | "received", the message's text)
    output: str

    def received(self) -> list[str]:
        return [m for way, m in self.messages if way == "received"]

    def statuses(self) -> list[int]:
        """The status codes of the responses SIPp received, in order."""
        return [int(m.split()[1]) for m in self.received() if m.startswith("SIP/2.0 ")]

    def responses(self, status: int) -> list[str]:
        return [m for m in self.received() if m.startswith(f"SIP/2.0 {status} ")]

    def answer_ports(self) -> set[int]:
        """The far end's RTP port of each call, from the SDP of its 200 answers."""
        return {int(m) for a in self.responses(200) for m in _MEDIA.findall(a)}


def run_scenario(sipp: Path, scenario: str, target: tuple[str, int], workdir: Path, *,
                 inject: list[str] | None = None, timeout_s: float = 60.0,
                 local_ip: str = "127.0.0.1", calls: int = 1,
                 extra: tuple[str, ...] = ()) -> SippRun:
    """``calls`` calls (one by default) of ``scenarios/<scenario>.xml`` against
    ``target``; ``inject``: the rows (``a;b;c``) of its injection file (``[field0]``...)."""
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [str(sipp), "-sf", str(SCENARIOS / f"{scenario}.xml"), "-m", str(calls),
           "-i", local_ip, "-mi", local_ip, "-p", str(free_udp_port()),
           "-mp", str(free_udp_port()), "-nostdin", "-trace_msg", "-trace_err",
           "-message_file", str(workdir / "messages.log"),
           "-error_file", str(workdir / "errors.log"),
           "-timeout", f"{int(timeout_s)}s", "-timeout_error", "-recv_timeout", "15000",
           *extra]
    if inject is not None:
        rows = workdir / "inject.csv"
        rows.write_text("SEQUENTIAL\n" + "\n".join(inject) + "\n")
        cmd += ["-inf", str(rows)]
    cmd.append(f"{target[0]}:{target[1]}")
    done = subprocess.run(["nice", "-n", "5", *cmd], cwd=workdir, capture_output=True,
                          text=True, timeout=timeout_s + 30, check=False)
    log = workdir / "messages.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    messages = [(way, body.strip().replace("\r\n", "\n")) for way, body in _ENTRY.findall(text)]
    errors = workdir / "errors.log"
    output = done.stdout[-3000:] + done.stderr[-3000:]
    if errors.exists():
        output += "\n" + errors.read_text(errors="replace")[-3000:]
    return SippRun(done.returncode, messages, output)
