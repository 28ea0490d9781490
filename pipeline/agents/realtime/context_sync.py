"""``set_chat_ctx`` as livekit-agents 0.12 does it: send the fewest deletions and
insertions (``llm.chat_diff``), then wait for the model to acknowledge each.

The model stage reports an acknowledgement (``conversation_item_acked``) for every item
the agent asked it to create or delete by id; :class:`ItemAcks` turns those into the
futures ``set_chat_ctx`` awaits. A model that never answers (an unknown item, a
provider without item events) costs at most :data:`ACK_TIMEOUT_S`, logged.
"""

from __future__ import annotations

import asyncio
import logging

from ipc.schema import ConversationItemAcked, CreateItem, DeleteItem, ModelCommand
from pipeline.agents.llm import ChatContext, new_item_id
from pipeline.agents.llm.chat_context import message_items
from pipeline.agents.llm.chat_diff import compute_changes

log = logging.getLogger("voxpipe.agent")

ACK_TIMEOUT_S = 5.0


def with_ids(ctx: ChatContext) -> ChatContext:
    """A copy of ``ctx`` whose every message has an id (the model names items by it)."""
    copy = ctx.copy()
    for message in copy.messages:
        if message.id is None:
            message.id = new_item_id()
    return copy


def sync_commands(old: ChatContext, new: ChatContext) -> list[ModelCommand]:
    """The commands turning the model's conversation ``old`` into ``new``: deletions,
    then insertions after their predecessors (0.12 keeps only messages the model has
    or that carry something: a tool call id or content)."""
    known = {m.id for m in old.messages}
    wanted = [m for m in new.messages
              if m.id in known or m.tool_call_id is not None or m.content is not None]
    changes = compute_changes([m.id for m in old.messages if m.id],
                              [m.id for m in wanted if m.id])
    by_id = {m.id: m for m in wanted}
    commands: list[ModelCommand] = [DeleteItem(item_id=i) for i in changes.to_delete]
    for previous, message_id in changes.to_add:
        for item in message_items(by_id[message_id]):
            commands.append(CreateItem(item=item, previous_item_id=previous))
            previous = item.item_id or previous
    return commands


class ItemAcks:
    """Futures of the model's acknowledgements, keyed by (item id, created)."""

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, bool], asyncio.Future[None]] = {}

    def expect(self, commands: list[ModelCommand]) -> list[asyncio.Future[None]]:
        loop = asyncio.get_running_loop()
        futures = []
        for c in commands:
            item_id = (c.item.item_id if isinstance(c, CreateItem)
                       else c.item_id if isinstance(c, DeleteItem) else None)
            if item_id:
                key = (item_id, isinstance(c, CreateItem))
                futures.append(self._waiting.setdefault(key, loop.create_future()))
        return futures

    def acked(self, e: ConversationItemAcked) -> None:
        future = self._waiting.pop((e.item_id, e.created), None)
        if future is not None and not future.done():
            future.set_result(None)

    def drop(self) -> None:
        """The link is gone: nothing more will be acknowledged on it."""
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()

    async def wait(self, futures: list[asyncio.Future[None]]) -> None:
        if not futures:
            return
        _, pending = await asyncio.wait(futures, timeout=ACK_TIMEOUT_S)
        if pending:
            log.warning("set_chat_ctx: %d of %d changes not acknowledged by the model "
                        "within %.0f s", len(pending), len(futures), ACK_TIMEOUT_S)
