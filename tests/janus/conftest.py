"""A Janus per test (module-scoped would share rooms between tests), stopped in teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.debian import find_or_install_janus
from tests.janus.janus_server import JanusServer


@pytest.fixture
def janus(tmp_path: Path) -> Iterator[JanusServer]:
    server = JanusServer(find_or_install_janus(), tmp_path / "janus")
    try:
        yield server
    finally:
        server.stop()
