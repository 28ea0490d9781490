"""``--sip HOST:PORT`` and ``--sip-allow CIDR``: what is accepted, and the one-line
error (exit 2) for what is not."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.serve.options import ServeOptions, ServeUsageError, sip_address
from tests.serve.harness import ROOT


@pytest.mark.parametrize(("value", "address"), [
    ("127.0.0.1:5060", ("127.0.0.1", 5060)), ("0.0.0.0:0", ("0.0.0.0", 0)),
    ("[::1]:5062", ("::1", 5062))])
def test_sip_addresses(value: str, address: tuple[str, int]) -> None:
    assert sip_address(value) == address


@pytest.mark.parametrize("value", ["5060", "localhost:5060", "127.0.0.1:x", "127.0.0.1:70000",
                                   ":5060"])
def test_bad_sip_addresses(value: str) -> None:
    with pytest.raises(ServeUsageError, match="--sip"):
        sip_address(value)


def test_sip_allow_must_be_cidrs() -> None:
    ServeOptions(sip_allow=("10.0.0.0/8", "::1/128", "192.168.1.7")).check()
    with pytest.raises(ServeUsageError, match="--sip-allow 'ten'"):
        ServeOptions(sip_allow=("ten",)).check()


def test_serve_refuses_a_bad_sip_flag_with_exit_2() -> None:
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "serve", "--port", "0",
                           "--sip", "nowhere:5060"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "--sip 'nowhere:5060'" in done.stderr
