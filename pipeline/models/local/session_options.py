"""Per-connection options, fixed when the websocket opens.

They start from the server's defaults and may be overridden per session from
the request URL's query string (`/v1/realtime?model=…&pace=…&chunk_ms=…`), so
one server can host sessions that behave differently. Later fault injection
(`&fault=…`) belongs here too; unknown query keys are ignored, as the real
API ignores what it does not use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from .audio_buffer import DEFAULT_MAX_SECONDS
from .response_run import Pacing
from .session_config import DEFAULT_MODEL
from .wire import SAMPLE_RATE

MAX_CHUNK_MS = 1000
MAX_PACE = 1000.0


@dataclass(frozen=True)
class SessionOptions:
    """How one session behaves, beyond what the client can `session.update`."""

    model: str = DEFAULT_MODEL
    beta: bool = False
    pacing: Pacing = field(default_factory=Pacing)
    max_buffer_samples: int = DEFAULT_MAX_SECONDS * SAMPLE_RATE

    def for_request(self, path: str, beta_header: str | None) -> SessionOptions:
        """These defaults overridden by a request's query string and `OpenAI-Beta` header.

        Raises ValueError for a query value out of range.
        """
        query = parse_qs(urlsplit(path).query)
        model = query.get("model", [self.model])[-1] or self.model
        chunk_ms, pace = self.pacing.chunk_ms, self.pacing.pace
        if "chunk_ms" in query:
            chunk_ms = int(query["chunk_ms"][-1])
            if not 1 <= chunk_ms <= MAX_CHUNK_MS:
                raise ValueError(f"chunk_ms must be 1..{MAX_CHUNK_MS}")
        if "pace" in query:
            pace = float(query["pace"][-1])
            if not 0.0 <= pace <= MAX_PACE:
                raise ValueError(f"pace must be 0..{MAX_PACE}")
        beta = beta_header is not None and "realtime=v1" in beta_header.replace(" ", "")
        return dataclasses.replace(
            self, model=model, beta=beta, pacing=Pacing(chunk_ms=chunk_ms, pace=pace)
        )
