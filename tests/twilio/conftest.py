"""One ``voxpipe serve`` (offline echo engine, ``--token``: streams connect to
``/twilio/TOKEN``) for every Twilio simulation of the package, one call at a time
unless a test says otherwise; each call's record is the folder ``--record`` gains."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.harness import ServeProcess
from tests.twilio.calls import TOKEN


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, Path]]:
    record = tmp_path_factory.mktemp("twilio") / "calls"
    with ServeProcess("--token", TOKEN, "--record", str(record)) as srv:
        yield srv, record
