"""The OpenAI Realtime protocol (GA or beta) behind the neutral :class:`Provider` seam.

One :class:`OpenAIProvider` per model connection: it builds the session config from
the neutral settings (sent once, as the connection opens), turns each model command
into its client event and each server event the stage uses into a provider event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

from ipc.schema import ModelCommand, ModelSpec, UpdateSession
from pipeline.providers.base import (
    Capabilities,
    ProviderClosed,
    ProviderConnectError,
    ProviderEvent,
)
from pipeline.providers.openai import translate
from pipeline.providers.openai.config import CAPABILITIES, RealtimeSessionConfig
from pipeline.providers.openai.connection import RealtimeConnection
from pipeline.providers.openai.server_events import ServerEvent


class OpenAIProvider:
    """A :class:`~pipeline.providers.base.Provider` over one :class:`RealtimeConnection`."""

    def __init__(self) -> None:
        self._conn: RealtimeConnection | None = None

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    @property
    def connection(self) -> RealtimeConnection:
        """The open connection (raises ProviderClosed before :meth:`connect`)."""
        if self._conn is None:
            raise ProviderClosed(None, "not connected")
        return self._conn

    async def connect(self, spec: ModelSpec, *, input_rate: int, output_rate: int) -> None:
        try:
            config = translate.realtime_config(
                spec.settings, model=spec.name, protocol=translate.protocol_of(spec.protocol),
                input_rate=input_rate, output_rate=output_rate)
        except ValueError as exc:
            raise ProviderConnectError(f"invalid session settings: {exc}", fatal=True) from exc
        # connect sends session.update for ``config``: the one per connection.
        self._conn = await RealtimeConnection.connect(
            spec.url, api_key=spec.api_key or None, config=config,
            api_key_header=spec.api_key_header)

    async def send(self, commands: Sequence[ModelCommand]) -> None:
        conn = self.connection
        # Translate everything first: a command the API cannot express sends nothing.
        plan: list[dict[str, object] | RealtimeSessionConfig] = []
        config = conn.config
        for cmd in commands:
            if isinstance(cmd, UpdateSession):
                config = translate.with_settings(config, cmd.settings)
                plan.append(config)
            else:
                plan.append(translate.client_event(cmd, config))
        for step in plan:
            if isinstance(step, RealtimeSessionConfig):
                await conn.update_session(step)
            else:
                await conn.send(step)

    async def append_audio(self, pcm: bytes) -> None:
        await self.connection.append_audio(pcm)

    async def events(self) -> AsyncIterator[ProviderEvent]:
        async for event in self.connection.events():
            neutral = translate.neutral_event(event)
            if neutral is not None:
                yield neutral

    async def push_events(self, handler: Callable[[ProviderEvent], None]) -> None:
        """:meth:`events`, pushed to ``handler`` as frames arrive (``deliver_events``)."""
        def on_server_event(event: ServerEvent) -> None:
            neutral = translate.neutral_event(event)
            if neutral is not None:
                handler(neutral)

        await self.connection.push_events(on_server_event)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    @property
    def close_code(self) -> int | None:
        return None if self._conn is None else self._conn.close_code

    @property
    def close_reason(self) -> str | None:
        return None if self._conn is None else self._conn.close_reason


def create_provider() -> OpenAIProvider:
    """A new, unconnected OpenAI provider (the registry's entry point)."""
    return OpenAIProvider()
