"""One session's connection to the realtime model, inside the model stage.

It speaks to the model only through the :class:`~pipeline.providers.base.Provider`
seam (the provider is chosen by ``SessionConfig.provider``): it sets the session up
once per connection, turns dsp's chunks into user audio and the model's neutral
events into playout messages and session events; it owns the state voxpipe needs
(the response and audio item in flight, received samples per item) and answers
playout's truncate points: truncate at min(played, received), or delete the item
when nothing of it was played, when the model can truncate at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, cast

import msgspec

from ipc.schema import (
    AgentItemDeleted,
    AgentItemTruncated,
    CancelResponse,
    CreateItem,
    DeleteItem,
    ModelCommand,
    ModelConnected,
    ModelDisconnected,
    ModelError,
    ModelEvent,
    SessionConfig,
    SessionError,
    SessionEvent,
    Truncate,
    TruncatePoint,
    UserAudio,
)
from ipc.stats import StageStats
from pipeline.logs import session_extra
from pipeline.providers.base import (
    Provider,
    ProviderClosed,
    ProviderConnectError,
    deliver_events,
)
from pipeline.providers.registry import ProviderFactory, provider_factory
from pipeline.stages.model_replies import MODEL_CUTS, ModelReplies, SendFn

log = logging.getLogger("voxpipe.model")

# Audio waiting for the websocket (connect, reconnect, slow link): 5 s of chunks.
# Past that the oldest goes: a caller's words from 5 s ago are no use to a reply.
SEND_QUEUE_CHUNKS: Final = 50
CONNECT_BACKOFF_S: Final = (0.2, 0.5, 1.0, 2.0)
# A link that dies sooner than this after connecting counts as a failed attempt.
LINK_MIN_LIFE_S: Final = 2.0
# What the link's errors say they came from.
MODEL_SOURCE: Final = "model"


@dataclass
class ModelLink:
    """The model connection of one session: connect, reconnect, forward both ways.

    ``factory`` defaults to the registry's provider for ``cfg.provider``; ``backoff_s``
    and ``min_life_s`` set the reconnect policy (tests shrink them).
    """

    cfg: SessionConfig
    to_playout: SendFn  # the model stage pushes only to playout
    emit: Callable[[SessionEvent], None]  # session event for the timeline/bus
    stats: StageStats
    factory: ProviderFactory | None = None
    backoff_s: tuple[float, ...] = CONNECT_BACKOFF_S
    min_life_s: float = LINK_MIN_LIFE_S
    outbox: asyncio.Queue[UserAudio] = field(
        default_factory=lambda: asyncio.Queue(SEND_QUEUE_CHUNKS))
    conn: Provider | None = None
    replies: ModelReplies = field(init=False)
    closed: bool = False
    recycling: bool = False
    link_no: int = 0  # connections opened so far; every event carries it
    _task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.replies = ModelReplies(self.session, self.cfg.output_rate, self.to_playout,
                                    self._emit, self.stats)

    @property
    def session(self) -> str:
        return self.cfg.session

    def _emit(self, event: ModelEvent | SessionError) -> None:
        # Events of one link reach the supervisor by two roads (straight, or placed on
        # the timeline by playout): the link number lets it drop a stale one.
        stamped = msgspec.structs.replace(event, link=f"{os.getpid()}.{self.link_no}")
        self.emit(cast(SessionEvent, stamped))  # every concrete ModelEvent is in the union

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"model-link-{self.session}")

    async def close(self) -> None:
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.conn is not None:
            await self.conn.close()

    # -- inbound from the pipeline --------------------------------------------
    def on_user_audio(self, msg: UserAudio) -> None:
        if self.outbox.full():
            self.outbox.get_nowait()
            self.stats.count("user_audio_dropped.backlog")
        self.outbox.put_nowait(msg)

    async def send_commands(self, commands: list[ModelCommand]) -> None:
        """The agent's commands, in order; without a link they are dropped (the agent
        replays its state on ``model_connected``)."""
        conn = self.conn
        if conn is None:
            self.stats.count("commands_dropped.no_link", len(commands))
            return
        self.replies.awaiting_ack.update(_named_items(commands))
        try:
            await conn.send(commands)
        except ProviderClosed:
            self.stats.count("commands_dropped.closed")
        except ValueError as exc:
            # Nothing of them was sent: the model cannot take what the agent asked.
            self.stats.count("commands_rejected")
            self._emit(ModelError("invalid_command", str(exc), None))

    async def on_truncate_point(self, tp: TruncatePoint) -> None:
        """Playout reports what of an interrupted item was heard; fix the item."""
        conn = self.conn
        if conn is None:
            return
        received = self.replies.received(tp.item_id)
        played = min(tp.played_samples, tp.received_samples if received is None else received)
        commands: list[ModelCommand] = []
        if tp.reason not in MODEL_CUTS and self.replies.response_id is not None:
            # The server cancels on its own VAD's speech start (or its own interruption);
            # any other cut (local VAD, user code) must cancel the reply itself.
            commands.append(CancelResponse())
        event: AgentItemDeleted | AgentItemTruncated | None = None
        if not conn.capabilities.supports_truncate:
            pass  # the model keeps the whole item: nothing to cut it with
        elif played == 0:
            # Truncating at 0 ms leaves an empty item the model may still "remember".
            commands.append(DeleteItem(item_id=tp.item_id))
            event = AgentItemDeleted(tp.item_id)
        else:
            end_ms = played * 1000 // tp.sample_rate
            commands.append(Truncate(item_id=tp.item_id, content_index=tp.content_index,
                                     audio_end_ms=end_ms))
            event = AgentItemTruncated(tp.item_id, end_ms)
        self.replies.awaiting_ack.update(_named_items(commands))
        try:
            await conn.send(commands)
        except ProviderClosed:
            # The link dropped; the item went with the model-side conversation.
            self.stats.count("truncate_on_closed_link")
            return
        if event is not None:
            self._emit(event)

    # -- the link --------------------------------------------------------------
    async def _run(self) -> None:
        try:
            factory = self.factory or provider_factory(self.cfg.provider)
        except ValueError as exc:
            self._emit(SessionError(True, str(exc), source=MODEL_SOURCE))
            return
        attempt = 0  # consecutive failures: refused connects or links that died young
        while not self.closed:
            provider = factory()
            try:
                await provider.connect(self.cfg.model, input_rate=self.cfg.model_rate,
                                       output_rate=self.cfg.output_rate)
            except ProviderConnectError as exc:
                fatal = exc.fatal or attempt >= len(self.backoff_s)
                self._emit(SessionError(fatal, str(exc), source=MODEL_SOURCE))
                log.warning("%s", exc, extra=session_extra(self.session))
                if fatal:
                    return
                await asyncio.sleep(self.backoff_s[attempt])
                attempt += 1
                continue
            self.conn = provider
            connected_at = time.monotonic()
            self.link_no += 1
            self._emit(ModelConnected(self.cfg.model.url))
            helpers = [asyncio.create_task(self._send_audio(provider))]
            if self.cfg.model.max_session_s > 0:
                helpers.append(asyncio.create_task(self._recycle_after(provider)))
            try:
                await deliver_events(provider, self.replies.on_event)
            finally:
                for helper in helpers:
                    helper.cancel()
            if self.closed:
                return
            self.replies.abandon()
            self._emit(ModelDisconnected(provider.close_code, provider.close_reason,
                                         self.recycling))
            if self.recycling:
                self.recycling = False
                attempt = 0
                continue
            # A link that keeps dying right after connecting counts as a failure, so a
            # server that accepts and drops cannot make us spin.
            if time.monotonic() - connected_at < self.min_life_s:
                if attempt >= len(self.backoff_s):
                    self._emit(SessionError(True, "the model keeps closing the connection "
                                            f"(code {provider.close_code})",
                                            source=MODEL_SOURCE))
                    return
                await asyncio.sleep(self.backoff_s[attempt])
                attempt += 1
            else:
                attempt = 0

    async def _recycle_after(self, conn: Provider) -> None:
        """Reconnect before the provider's session time cap, between two responses
        (the agent replays the conversation on ``model_connected``)."""
        await asyncio.sleep(self.cfg.model.max_session_s)
        while self.replies.busy:
            await asyncio.sleep(0.05)
        self.recycling = True
        self.stats.count("model_recycled")
        await conn.close()

    async def _send_audio(self, conn: Provider) -> None:
        hop = self.stats.hop("dsp_to_model_sent")
        while True:
            msg = await self.outbox.get()
            try:
                await conn.append_audio(msg.pcm)
            except ProviderClosed:
                return  # the event loop in _run sees the close and reconnects
            hop.record_ns(time.monotonic_ns() - msg.dsp_ns)
            self.stats.count("chunks_sent")


def _named_items(commands: list[ModelCommand]) -> list[str]:
    """The items these commands create or delete by id: the agent awaits their acks."""
    ids: list[str | None] = [c.item.item_id if isinstance(c, CreateItem) else c.item_id
                             for c in commands if isinstance(c, CreateItem | DeleteItem)]
    return [i for i in ids if i]
