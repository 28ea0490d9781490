"""Per-connection options, fixed when the websocket opens.

They start from the server's defaults and may be overridden per session from
the request URL's query string (`/v1/realtime?model=…&pace=…&chunk_ms=…`,
`engine=…`, `text_responses=…`, faults: `fault=…&fault_id=…&stall_s=…`, see
`faults`), so one server can host sessions that behave differently. Unknown
query keys are ignored, as the real API ignores what it does not use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from .audio_buffer import DEFAULT_MAX_SECONDS
from .faults import parse_fault
from .response_run import Pacing
from .session_config import DEFAULT_MODEL
from .wire import SAMPLE_RATE

MAX_CHUNK_MS = 1000
MAX_PACE = 1000.0
ENGINES = ("dialogue", "echo")
MAX_TEXT_RESPONSES = 1_000_000


@dataclass(frozen=True)
class SessionOptions:
    """How one session behaves, beyond what the client can `session.update`."""

    model: str = DEFAULT_MODEL
    beta: bool = False
    pacing: Pacing = field(default_factory=Pacing)
    max_buffer_samples: int = DEFAULT_MAX_SECONDS * SAMPLE_RATE
    #: Reply engine: "dialogue" (STT -> dialogue -> TTS) or "echo" (repeat the user turn).
    engine: str = "dialogue"
    #: Answer the first N responses in text instead of audio.
    text_responses: int = 0
    #: Fault to inject in this session (`faults.FAULTS`); empty: none.
    fault: str = ""
    #: With a fault id, the fault fires once server-wide (reconnects get a clean session).
    fault_id: str | None = None
    #: Responses to let through before a response-triggered fault arms.
    fault_after: int = 0
    #: How long `fault=stall` sends nothing.
    stall_s: float = 5.0

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
        engine = query.get("engine", [self.engine])[-1]
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
        text_responses = self.text_responses
        if "text_responses" in query:
            text_responses = int(query["text_responses"][-1])
            if not 0 <= text_responses <= MAX_TEXT_RESPONSES:
                raise ValueError(f"text_responses must be 0..{MAX_TEXT_RESPONSES}")
        fault = query.get("fault", [self.fault])[-1]
        fault_id = query.get("fault_id", [self.fault_id])[-1] or None
        stall_s = float(query["stall_s"][-1]) if "stall_s" in query else self.stall_s
        fault_after = int(query["fault_after"][-1]) if "fault_after" in query else self.fault_after
        parse_fault(fault, fault_id, stall_s)
        if not 0 <= fault_after <= MAX_TEXT_RESPONSES:
            raise ValueError(f"fault_after must be 0..{MAX_TEXT_RESPONSES}")
        beta = beta_header is not None and "realtime=v1" in beta_header.replace(" ", "")
        return dataclasses.replace(
            self,
            model=model,
            beta=beta,
            pacing=Pacing(chunk_ms=chunk_ms, pace=pace),
            engine=engine,
            text_responses=text_responses,
            fault=fault,
            fault_id=fault_id,
            stall_s=stall_s,
            fault_after=fault_after,
        )
