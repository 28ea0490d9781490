"""``EventEmitter``: ``on``/``once``/``off``/``emit``, the shape livekit-agents users know.

Listeners run synchronously in the emitting loop; one that raises is logged and
the others still run, so user code can never break the agent's own handling. As
``livekit.rtc.EventEmitter`` does, a listener gets only as many positional arguments
as it takes (all of them if it takes ``*args``): ``lambda: ...`` may listen to an
event that carries a payload.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T", bound=str)
F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("voxpipe.events")


class EventEmitter(Generic[T]):
    def __init__(self) -> None:
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        # How many positional arguments each listener takes (None: all), read once when
        # it is registered: a signature is too dear to read on every emission.
        self._takes: dict[Callable[..., Any], int | None] = {}

    def on(self, event: T, callback: F | None = None) -> Any:
        """Register ``callback`` for ``event``; without a callback, a decorator."""
        if callback is None:
            def decorator(fn: F) -> F:
                self.on(event, fn)
                return fn
            return decorator
        self._listeners.setdefault(event, []).append(callback)
        self._takes[callback] = positional_limit(callback)
        return callback

    def once(self, event: T, callback: F | None = None) -> Any:
        """Like ``on``, but the callback runs for the next emission only."""
        if callback is None:
            def decorator(fn: F) -> F:
                self.once(event, fn)
                return fn
            return decorator
        cb = callback

        def wrapper(*args: Any) -> Any:
            self.off(event, wrapper)
            return call_with_arity(cb, args)

        return self.on(event, wrapper)

    def off(self, event: T, callback: Callable[..., Any]) -> None:
        listeners = self._listeners.get(event, [])
        if callback in listeners:
            listeners.remove(callback)
        if not any(callback in others for others in self._listeners.values()):
            self._takes.pop(callback, None)

    def emit(self, event: T, *args: Any) -> None:
        for callback in list(self._listeners.get(event, ())):
            try:
                callback(*args[:self._takes.get(callback)])
            except Exception:
                log.exception("listener for %r failed", event)


def positional_limit(callback: Callable[..., Any]) -> int | None:
    """How many positional arguments ``callback`` takes; None if it takes any number
    (``*args``, or no signature to read, as for some builtins)."""
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def call_with_arity(callback: Callable[..., Any], args: Sequence[Any]) -> Any:
    """``callback`` with as many of ``args`` as it takes positionally (rtc's rule)."""
    return callback(*args[:positional_limit(callback)])
