"""Browser-call fixtures: Debian's Chromium, the result collector, ``voxpipe serve``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from tests.web.chromium import Browser, find_or_install_chromium
from tests.web.collector import CallResult, Collector
from tests.web.serve_process import ServeProcess
from tests.web.speech import Speech

ECHO_AGENT = Path(__file__).with_name("echo_agent.py")
MAX_SESSIONS = 3


@pytest.fixture(scope="session")
def chromium() -> Path:
    """``/usr/bin/chromium``; installed with apt-get when missing (fails clearly if not)."""
    try:
        return find_or_install_chromium()
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One ``voxpipe serve`` (echo engine, local VAD agent) for the module's calls."""
    base = tmp_path_factory.mktemp("serve")
    (base / "record").mkdir()
    s = ServeProcess(base / "record", "--agent", str(ECHO_AGENT),
                     "--max-sessions", str(MAX_SESSIONS), log_path=base / "serve.log")
    s.warm_up()
    yield s
    s.stop()


@dataclass
class Caller:
    """Starts browser calls (test mode) against an origin and collects their results."""

    chromium: Path
    collector: Collector
    tmp: Path

    _names: ClassVar[Iterator[int]] = itertools.count()

    def start(self, origin: str, speech: Speech, seconds: float, *, deny_microphone: bool = False
              ) -> tuple[str, Browser]:
        name = f"call{next(self._names)}"
        wav = speech.write(self.tmp / f"{name}.wav")
        url = (f"{origin}/?autostart=1&test=1&ice_host=127.0.0.1&seconds={seconds}"
               f"&result={self.collector.url(name)}")
        browser = Browser(self.chromium, url, self.tmp / name, capture_wav=wav,
                          deny_microphone=deny_microphone)
        return name, browser

    def result(self, name: str, browser: Browser, timeout_s: float) -> CallResult:
        try:
            return self.collector.wait(name, timeout_s)
        except TimeoutError:
            browser.kill()
            raise AssertionError(f"{name}: no result; chromium said:\n{browser.log_tail()}"
                                 ) from None
        finally:
            browser.wait(5)
            browser.kill()


@pytest.fixture(scope="module")
def caller(chromium: Path, collector: Collector,
           tmp_path_factory: pytest.TempPathFactory) -> Caller:
    return Caller(chromium, collector, tmp_path_factory.mktemp("calls"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here drives Chromium: marked ``browser`` so ``-m browser`` runs just
    these (and ``-m 'not browser'`` leaves them out on a machine without Debian's
    chromium packages); ``make test`` runs them."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)
