"""Reading an agent file's ``WorkerOptions`` without running its app.

A livekit-agents 0.12 file names its entrypoint and ``prewarm_fnc`` only in
``cli.run_app(WorkerOptions(...))`` under ``if __name__ == "__main__"``. The runner
executes such a file as ``__main__`` inside :func:`capturing_options`; there
``run_app`` hands its options to :func:`capture_options`, which records them and
stops the ``__main__`` block (nothing after ``run_app`` runs, no worker starts).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from pipeline.agents.worker import WorkerOptions


@dataclass
class CapturedOptions:
    """The options ``run_app`` was called with while capturing (None if not called)."""

    options: WorkerOptions | None = None


class _Captured(BaseException):
    """Stops the file's ``__main__`` block at ``run_app`` (a BaseException, so a user's
    ``except Exception`` around it cannot swallow it)."""


_capture: CapturedOptions | None = None


@contextlib.contextmanager
def capturing_options() -> Iterator[CapturedOptions]:
    """While active, ``run_app`` records its options and control returns here."""
    global _capture
    captured, previous = CapturedOptions(), _capture
    _capture = captured
    try:
        yield captured
    except _Captured:
        pass
    finally:
        _capture = previous


def capture_options(opts: WorkerOptions) -> None:
    """Called by ``run_app`` first: while capturing, record ``opts`` and stop the
    caller (raises); otherwise return at once."""
    if _capture is not None:
        _capture.options = opts
        raise _Captured
