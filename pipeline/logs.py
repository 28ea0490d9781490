"""Logging for every voxpipe process: one line per record on stdout, tagged with
the process (stage) name and the session id, as a supervisor's journal wants."""

from __future__ import annotations

import logging
import sys
from typing import TextIO


class _SessionField(logging.Filter):
    """Give every record a ``session`` attribute ("-" when it has none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "session"):
            record.session = "-"
        return True


def setup_logging(level: str = "INFO", process: str = "supervisor",
                  stream: TextIO | None = None) -> None:
    """One line per record on ``stream`` (stdout by default)."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.addFilter(_SessionField())
    handler.setFormatter(
        logging.Formatter(
            f"%(asctime)s %(levelname)-5s [{process}] [%(session)s] %(message)s",
            datefmt="%H:%M:%S",
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # websockets logs every handshake failure at INFO with tracebacks: too loud.
    logging.getLogger("websockets").setLevel(logging.WARNING)


def session_extra(session: str) -> dict[str, str]:
    """``extra=`` for a log call about one session."""
    return {"session": session}
