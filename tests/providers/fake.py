"""A scripted in-memory provider: what a model stage's provider seam needs, and no server.

A :class:`FakeModel` stands for the model behind every connection its factory opens:
it refuses the next connects with the errors it is given, records each connection,
and each :class:`FakeProvider` records the settings it was connected with, the
commands and audio it got, and yields the events a test pushes. Registered as
provider ``fake`` with ``VOXPIPE_PROVIDER_MODULES="fake=tests.providers.fake"``; the
registry's ``create_provider`` opens connections of the module's :data:`MODEL`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from ipc.schema import ModelCommand, ModelSpec
from pipeline.providers.base import (
    Capabilities,
    ProviderClosed,
    ProviderConnectError,
    ProviderEvent,
)

FAKE_CAPABILITIES = Capabilities(supports_truncate=True, input_audio_sample_rate=16000)


@dataclass
class FakeModel:
    capabilities: Capabilities = FAKE_CAPABILITIES
    connect_errors: list[ProviderConnectError] = field(default_factory=list)
    attempts: int = 0  # connects tried, refused or not
    links: list[FakeProvider] = field(default_factory=list)  # connections made

    def create_provider(self) -> FakeProvider:
        return FakeProvider(self)

    async def wait_links(self, n: int, timeout: float = 5.0) -> FakeProvider:
        """The n-th connection (1-based), once made."""
        async def poll() -> FakeProvider:
            while len(self.links) < n:
                await asyncio.sleep(0.002)
            return self.links[n - 1]
        return await asyncio.wait_for(poll(), timeout)


class FakeProvider:
    def __init__(self, model: FakeModel) -> None:
        self.model = model
        self.spec: ModelSpec | None = None
        self.rates: tuple[int, int] | None = None
        self.commands: list[ModelCommand] = []
        self.audio: list[bytes] = []
        self._events: asyncio.Queue[ProviderEvent | None] = asyncio.Queue()
        self._code: int | None = None
        self._reason: str | None = None

    @property
    def capabilities(self) -> Capabilities:
        return self.model.capabilities

    async def connect(self, spec: ModelSpec, *, input_rate: int, output_rate: int) -> None:
        self.model.attempts += 1
        if self.model.connect_errors:
            raise self.model.connect_errors.pop(0)
        self.spec, self.rates = spec, (input_rate, output_rate)
        self.model.links.append(self)

    def _check_open(self) -> None:
        if self._code is not None:
            raise ProviderClosed(self._code, self._reason or "")

    async def send(self, commands: Sequence[ModelCommand]) -> None:
        self._check_open()
        self.commands.extend(commands)

    async def append_audio(self, pcm: bytes) -> None:
        self._check_open()
        self.audio.append(pcm)

    def push(self, *events: ProviderEvent) -> None:
        """Events the model sends, in order."""
        for event in events:
            self._events.put_nowait(event)

    def drop(self, code: int = 1006, reason: str = "") -> None:
        """The connection ends (1006: dropped): the event stream stops after what is queued."""
        if self._code is None:
            self._code, self._reason = code, reason
            self._events.put_nowait(None)

    async def events(self) -> AsyncIterator[ProviderEvent]:
        while (event := await self._events.get()) is not None:
            yield event

    async def close(self) -> None:
        self.drop(1000, "")

    @property
    def close_code(self) -> int | None:
        return self._code

    @property
    def close_reason(self) -> str | None:
        return self._reason


MODEL = FakeModel()
"""The model the registry's connections go to (tests replace it)."""


def create_provider() -> FakeProvider:
    """The registry's entry point: a connection to :data:`MODEL`."""
    return MODEL.create_provider()
