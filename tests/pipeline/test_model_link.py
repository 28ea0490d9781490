"""ModelLink through the OpenAI provider against the real offline server: what a cut
item becomes on the model side.

Playout's TruncatePoint says how much of an item was played; the link deletes the
item when nothing was (a 0 ms truncation would leave an empty turn the model still
"remembers"), truncates at min(played, received) otherwise, and cancels the reply
itself unless the cut came from the server's own speech detection.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from ipc.schema import (
    AgentAudio,
    AgentItemDeleted,
    AgentItemTruncated,
    CreateResponse,
    DataMsg,
    FileTransport,
    ModelConnected,
    ModelError,
    ModelSpec,
    ResponseDone,
    SessionConfig,
    SessionEvent,
    SessionSettings,
    TruncatePoint,
)
from ipc.stats import StageStats
from pipeline.stages.model_link import ModelLink

E = TypeVar("E", bound=SessionEvent)


class _Recorder:
    def __init__(self) -> None:
        self.events: list[SessionEvent] = []
        self.data: list[DataMsg] = []

    def kinds(self) -> list[type[SessionEvent]]:
        return [type(e) for e in self.events]

    async def wait_for(self, kind: type[E], n: int = 1, timeout: float = 10.0) -> E:
        async def poll() -> E:
            while self.kinds().count(kind) < n:
                await asyncio.sleep(0.01)
            return [e for e in self.events if isinstance(e, kind)][n - 1]
        return await asyncio.wait_for(poll(), timeout)


async def _link_with_reply(url: str) -> tuple[ModelLink, _Recorder, str, int]:
    rec = _Recorder()
    cfg = SessionConfig(session="s", t0_ns=0, out_dir="/tmp",
                        transport=FileTransport("x", 24000, 1, 0),
                        model=ModelSpec(url=url, settings=SessionSettings(turn_detection=None)))
    link = ModelLink(cfg, rec.data.append, rec.events.append,
                     StageStats())
    link.start()
    await rec.wait_for(ModelConnected)
    # The echo engine answers a bare response request with a short tone.
    await link.send_commands([CreateResponse(modalities=("audio",))])
    done = await rec.wait_for(ResponseDone)
    assert done.status == "completed"
    audio = [m for m in rec.data if isinstance(m, AgentAudio)]
    received = sum(len(m.pcm) // 2 for m in audio)
    assert received > 4800
    return link, rec, audio[0].item_id, received


def test_nothing_played_deletes_the_item(model_url: str) -> None:
    async def main() -> None:
        link, rec, item, received = await _link_with_reply(model_url)
        try:
            await link.on_truncate_point(
                TruncatePoint("s", item, 0, 0, received, 24000, "local_vad"))
            deleted = await rec.wait_for(AgentItemDeleted)
            assert deleted.item_id == item
            await asyncio.sleep(0.2)
            assert AgentItemTruncated not in rec.kinds()
            assert ModelError not in rec.kinds()  # the server knew the item
        finally:
            await link.close()

    asyncio.run(main())


def test_truncation_is_clamped_to_what_was_received(model_url: str) -> None:
    async def main() -> None:
        link, rec, item, received = await _link_with_reply(model_url)
        try:
            await link.on_truncate_point(
                TruncatePoint("s", item, 0, 4800, received, 24000, "speech_started"))
            cut = await rec.wait_for(AgentItemTruncated)
            assert (cut.item_id, cut.audio_end_ms) == (item, 200)
            # Playout claims more than ever arrived: the API would reject it.
            await link.on_truncate_point(
                TruncatePoint("s", item, 0, received + 9600, received, 24000, "interrupt"))
            cut = await rec.wait_for(AgentItemTruncated, 2)
            assert cut.audio_end_ms == received * 1000 // 24000
        finally:
            await link.close()

    asyncio.run(main())
