"""A throwaway venv with livekit-agents 0.12 from PyPI, built once and reused: the
real client the fake dispatch server is proven against (never a voxpipe dependency)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REQUIREMENT = "livekit-agents~=0.12.0"
# 0.12.21 imports PyAV (livekit.agents.utils.codecs) without requiring it.
REQUIREMENTS = (REQUIREMENT, "av")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "voxpipe-test" / "lk-agents-0.12"


def lk_agents_python() -> Path:
    """The venv's python (built if missing); skips the test if PyPI is unreachable."""
    venv = cache_dir()
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import livekit.agents, livekit.agents.cli"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS],
                             capture_output=True, text=True, timeout=900)
    if install.returncode != 0:
        tail = (install.stderr or install.stdout).strip().splitlines()[-3:]
        pytest.skip(f"cannot install {REQUIREMENT} from PyPI: {' | '.join(tail)}")
    return python
