"""Phone-call fixtures: Debian's SIPp and baresip, a ``voxpipe serve --sip``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.debian import find_or_install_baresip, find_or_install_sipp
from tests.serve.harness import ServeProcess

SIP_LISTENING = "voxpipe: SIP on udp:"


@dataclass
class SipServer:
    """A running ``voxpipe serve --sip 127.0.0.1:0`` and where it records calls."""

    process: ServeProcess
    address: tuple[str, int]
    record_dir: Path


def start_sip_server(record_dir: Path, *flags: str) -> SipServer:
    process = ServeProcess("--sip", "127.0.0.1:0", "--record", str(record_dir), *flags)
    line = next((ln for ln in process.lines if ln.startswith(SIP_LISTENING)), None)
    if line is None:
        process.stop()
        raise RuntimeError("voxpipe serve printed no SIP address:\n" + process.output)
    host, _, port = line[len(SIP_LISTENING):].strip().rpartition(":")
    return SipServer(process, (host, int(port)), record_dir)


@pytest.fixture(scope="session")
def sipp() -> Path:
    try:
        return find_or_install_sipp()
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def baresip() -> Path:
    try:
        return find_or_install_baresip()
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def sip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipServer]:
    """One ``voxpipe serve --sip`` (echo engine) for the module's calls."""
    server = start_sip_server(tmp_path_factory.mktemp("sip-record"))
    yield server
    server.process.stop()


@pytest.fixture(scope="module")
def full_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipServer]:
    """A server that takes no calls (``--max-sessions 0``), from 127.0.0.2 only."""
    server = start_sip_server(tmp_path_factory.mktemp("sip-full"), "--max-sessions", "0",
                              "--sip-allow", "127.0.0.2/32")
    yield server
    server.process.stop()
