"""Shared fixtures: the offline model server, example audio, and timeline helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.local_model import LocalModelServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "audio"


@pytest.fixture(scope="session")
def model_url() -> Iterator[str]:
    """The bundled offline model server, on loopback, for the whole test run."""
    with LocalModelServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def three_turns() -> tuple[Path, dict[str, Any]]:
    wav = EXAMPLES / "three_turns.wav"
    labels = json.loads((EXAMPLES / "three_turns.json").read_text())
    return wav, labels
