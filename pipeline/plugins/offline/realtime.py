"""``RealtimeModel`` backed by voxpipe's offline model server (no keys, no network).

The server is a child process started on first use and shared by every session
of the model object; ``options`` become the session URL's query (``engine``,
``text_responses``, ``fault``... see ``voxpipe model-server --help``), so one
test can make one session misbehave.
"""

from __future__ import annotations

import asyncio
from typing import Literal
from urllib.parse import urlencode

from ipc.schema import TurnDetection
from pipeline.model_server.launcher import ModelServerProcess
from pipeline.plugins.openai.realtime import DEFAULT_MAX_SESSION_S
from pipeline.plugins.openai.realtime import RealtimeModel as OpenAIRealtimeModel


class RealtimeModel(OpenAIRealtimeModel):
    def __init__(
        self,
        *,
        instructions: str = "",
        voice: str = "alloy",
        engine: Literal["dialogue", "echo"] = "dialogue",
        options: dict[str, str | int | float] | None = None,
        protocol: Literal["ga", "beta"] = "ga",
        turn_detection: TurnDetection | None = TurnDetection(),  # noqa: B008 - frozen
        url: str | None = None,
        max_session_s: float = DEFAULT_MAX_SESSION_S,
    ) -> None:
        super().__init__(
            model="voxpipe-offline", instructions=instructions, voice=voice,
            base_url=url or "ws://127.0.0.1:0/v1", api_key="", protocol=protocol,
            turn_detection=turn_detection, max_session_s=max_session_s, temperature=None,
        )
        self._fixed_url = url
        self.options = {"engine": engine, **(options or {})}
        self._server: ModelServerProcess | None = None
        self._lock = asyncio.Lock()

    async def url(self) -> str:
        async with self._lock:
            base = self._fixed_url
            if base is None:
                if self._server is None:
                    server = ModelServerProcess()
                    await asyncio.to_thread(server.start)
                    self._server = server
                base = self._server.url
        sep = "&" if "?" in base else "?"
        return f"{base}{sep}{urlencode(self.options)}"

    async def aclose(self) -> None:
        """Stop the server this model started."""
        if self._server is not None:
            await asyncio.to_thread(self._server.stop)
            self._server = None
