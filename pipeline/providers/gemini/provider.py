"""Gemini Live behind the neutral :class:`~pipeline.providers.base.Provider` seam, with
seamless session resumption.

A Live connection has a time limit: the server says ``goAway`` (with the time left)
before it ends it, and keeps sending ``sessionResumptionUpdate`` handles that name the
session's state. On ``goAway`` (or a connection that drops while a handle is known)
the provider opens a new connection with the latest handle, between two model turns
when it can, and swaps it in: the events iterator goes on across connections, the
user's audio sent since the handle was issued is sent again and audio arriving during
the swap is held and sent after it, so the model stage sees one unbroken session and
the agent replays nothing (the server kept the context). ``UpdateSession`` is a new
``setup`` too (Gemini cannot change a session's settings in place): the same swap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Final

from ipc.schema import (
    CreateItem,
    DeleteItem,
    ModelCommand,
    ModelSpec,
    SessionSettings,
    UpdateSession,
)
from pipeline.providers.base import (
    Capabilities,
    ItemCreated,
    ItemDeleted,
    ProviderClosed,
    ProviderConnectError,
    ProviderEvent,
)
from pipeline.providers.gemini.commands import CommandTranslator
from pipeline.providers.gemini.connection import GeminiConnection
from pipeline.providers.gemini.setup import CAPABILITIES, setup_message
from pipeline.providers.gemini.translate import Translator
from pipeline.providers.gemini.wire import Message, ServerMessage, duration_s

log = logging.getLogger("voxpipe.model")

# Swap connections at the latest this long before the server's announced end.
RESUME_MARGIN_S: Final = 1.0
DEFAULT_TIME_LEFT_S: Final = 10.0
# User audio kept for a resumption (sent since the last handle): 10 s of 100 ms chunks.
REPLAY_CHUNKS: Final = 100


class GeminiProvider:
    def __init__(self) -> None:
        self._conn: GeminiConnection | None = None
        self._spec = ModelSpec()
        self._settings = SessionSettings()
        self._rate = CAPABILITIES.input_audio_sample_rate or 16000
        self._handle: str | None = None
        self._since_handle: list[bytes] = []
        self._held: list[Message | bytes] | None = None  # what arrives during a swap
        self._resetup = False  # new settings came during a swap: swap again after it
        self._swap: asyncio.Task[bool] | None = None
        self._queue: asyncio.Queue[ProviderEvent | None] = asyncio.Queue()
        self._translator = Translator()
        self._commands = CommandTranslator(self._translator.call_names,
                                           self._translator.open_calls)
        self._readers: set[asyncio.Task[None]] = set()
        self._closed = False
        self._ended: tuple[int | None, str | None] | None = None
        self.resumptions = 0  # connections swapped in so far

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    def _setup(self) -> Message:
        return setup_message(self._settings, model=self._spec.name, handle=self._handle)

    async def connect(self, spec: ModelSpec, *, input_rate: int, output_rate: int) -> None:
        self._spec, self._settings, self._rate = spec, spec.settings, input_rate
        try:
            setup = self._setup()
        except ValueError as exc:
            raise ProviderConnectError(f"invalid session settings: {exc}", fatal=True) from exc
        self._use(await GeminiConnection.open(spec.url, api_key=spec.api_key, setup=setup))

    def _use(self, conn: GeminiConnection) -> None:
        self._conn = conn
        self._translator.modality = self._settings.modalities[0]
        self._commands.manual_turns = self._settings.turn_detection is None
        self._commands.activity_open = False
        task = asyncio.create_task(self._read(conn), name="gemini-reader")
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    @property
    def connection(self) -> GeminiConnection:
        if self._ended is not None:
            raise ProviderClosed(self._ended[0], self._ended[1] or "")
        if self._conn is None:
            raise ProviderClosed(None, "not connected")
        return self._conn

    # -- sending ----------------------------------------------------------------
    # Nothing here waits for a swap: the model stage serves every session from one loop.
    async def send(self, commands: Sequence[ModelCommand]) -> None:
        self.connection  # noqa: B018 - raises ProviderClosed when closed
        plan: list[Message | SessionSettings] = []
        for cmd in commands:  # translate everything first: a refused command sends nothing
            if isinstance(cmd, UpdateSession):
                setup_message(cmd.settings, model=self._spec.name)  # ValueError if refused
                plan.append(cmd.settings)
            else:
                plan.extend(self._commands.messages(cmd))
        for step in plan:
            if isinstance(step, SessionSettings):
                self._new_settings(step)
            else:
                await self._send(step)
        self._acknowledge(commands)

    def _acknowledge(self, commands: Sequence[ModelCommand]) -> None:
        """Gemini acknowledges no item: a create is in the context once its
        ``clientContent`` is sent, and a delete is all it can be (Live cannot remove
        a turn, see docs/seed-differences.md), so ``set_chat_ctx`` does not wait on
        acks that never come."""
        for cmd in commands:
            if isinstance(cmd, CreateItem) and cmd.item.item_id:
                self._queue.put_nowait(ItemCreated(cmd.item.item_id))
            elif isinstance(cmd, DeleteItem):
                self._queue.put_nowait(ItemDeleted(cmd.item_id))

    def _new_settings(self, settings: SessionSettings) -> None:
        self._settings = settings
        if self._handle is None:
            log.info("Gemini: new settings without a resumption handle: a new session")
        if self._swap is not None:
            self._resetup = True  # the swap under way may have sent the old setup
        else:
            self._start_swap(0.0, wait_idle=False)

    async def _send(self, item: Message | bytes) -> None:
        """One message or audio chunk, in order: held while connections are swapped."""
        if self._held is not None:
            self._held.append(item)
        else:
            await self._deliver(item)

    async def _deliver(self, item: Message | bytes) -> None:
        conn = self.connection
        if isinstance(item, bytes):
            for msg in self._commands.audio(item, self._rate):
                await conn.send(msg)
            self._since_handle.append(item)
            del self._since_handle[:-REPLAY_CHUNKS]
        else:
            await conn.send(item)

    async def append_audio(self, pcm: bytes) -> None:
        await self._send(pcm)

    # -- receiving ----------------------------------------------------------------
    async def events(self) -> AsyncIterator[ProviderEvent]:
        while (event := await self._queue.get()) is not None:
            yield event

    async def _read(self, conn: GeminiConnection) -> None:
        try:
            async for msg in conn.messages():
                self._on_message(conn, msg)
        finally:
            if conn is self._conn and self._swap is None and not self._closed:
                self._lost(conn)

    def _lost(self, conn: GeminiConnection) -> None:
        """The connection in use ended without our asking: resume, or end the events."""
        if self._handle is not None:
            log.info("Gemini connection dropped (code %s); resuming", conn.close_code)
            self._start_swap(0.0, wait_idle=False)
        else:
            self._end(conn)

    def _on_message(self, conn: GeminiConnection, msg: ServerMessage) -> None:
        update = msg.session_resumption_update
        if update is not None and update.resumable and update.new_handle and conn is self._conn:
            self._handle = update.new_handle
            self._since_handle.clear()
        for event in self._translator.events(msg):
            self._queue.put_nowait(event)
        if msg.go_away is not None and conn is self._conn:
            left = duration_s(msg.go_away.time_left)
            log.info("Gemini goAway (%s s left); resuming on a new connection", left)
            self._start_swap(DEFAULT_TIME_LEFT_S if left is None else left, wait_idle=True)

    def _end(self, conn: GeminiConnection) -> None:
        if self._ended is None:
            self._ended = (conn.close_code, conn.close_reason)
            self._queue.put_nowait(None)

    # -- resumption ----------------------------------------------------------------
    def _start_swap(self, time_left_s: float, *, wait_idle: bool) -> None:
        if self._swap is None and not self._closed:
            if not wait_idle:
                self._held = []  # from now on, for the new connection
            self._swap = asyncio.create_task(self._resume(time_left_s, wait_idle),
                                             name="gemini-resume")

    def _idle(self) -> bool:
        """Between two model turns, no tool call waiting for its answer."""
        return not self._translator.busy and not self._translator.open_calls

    async def _resume(self, time_left_s: float, wait_idle: bool) -> bool:
        """Swap in a new connection set up with the latest handle; False if it failed
        (the events then end, and the model stage reconnects from scratch)."""
        old = self._conn
        assert old is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, time_left_s - RESUME_MARGIN_S)
        while wait_idle and not self._idle() and loop.time() < deadline \
                and old.close_code is None:
            await asyncio.sleep(0.05)
        held = self._held = [] if self._held is None else self._held
        try:
            if self._translator.busy:  # out of time: the reply in flight is lost
                out: list[ProviderEvent] = []
                self._translator.end("incomplete", out, "connection_swapped")
                for event in out:
                    self._queue.put_nowait(event)
            try:
                new = await GeminiConnection.open(self._spec.url, api_key=self._spec.api_key,
                                                  setup=self._setup())
            except ProviderConnectError as exc:
                log.warning("Gemini session resumption failed: %s", exc)
                self._end(old)
                await old.close()
                return False
            self._use(new)
            self.resumptions += 1
            # The audio since the handle was issued is not in the resumed state: again.
            held[:0], self._since_handle = self._since_handle, []
            with contextlib.suppress(ProviderClosed):  # a new drop: handled below
                while held:  # what arrives meanwhile joins the end of ``held``
                    await self._deliver(held.pop(0))
            return True
        finally:
            self._held = None
            self._swap = None
            if self._conn is not old:
                await old.close()
            conn = self._conn
            if conn is not None and not self._closed and self._ended is None:
                if conn.close_code is not None:
                    self._lost(conn)  # the new connection dropped during the swap
                elif self._resetup:
                    self._resetup = False
                    self._start_swap(0.0, wait_idle=False)

    # -- closing ------------------------------------------------------------------
    async def close(self) -> None:
        self._closed = True
        if self._swap is not None:
            self._swap.cancel()
        if self._conn is not None:
            await self._conn.close()
            self._end(self._conn)

    @property
    def close_code(self) -> int | None:
        return None if self._ended is None else self._ended[0]

    @property
    def close_reason(self) -> str | None:
        return None if self._ended is None else self._ended[1]


def create_provider() -> GeminiProvider:
    """A new, unconnected Gemini Live provider (the registry's entry point)."""
    return GeminiProvider()
