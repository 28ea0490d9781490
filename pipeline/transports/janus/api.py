"""A client of Janus's HTTP API (the "REST" transport): one session, its plugin handles.

Janus's HTTP protocol is request/response for what it answers at once (``create``,
``attach``, a plugin's synchronous requests) and an ``ack`` for a plugin's
asynchronous ones (an AudioBridge ``join`` or ``leave``), whose answer comes later as
an event carrying the request's ``transaction``. Events are fetched by long-polling
``GET <url>/<session>``, which also keeps the session alive (Janus drops a session
after ``session_timeout``, 60 s by default, without a request; a poll returns after
30 s with a ``keepalive`` when nothing happened). One poller task per session
routes each event to the request waiting for its transaction, else to the handle it
came from (``sender``). A session Janus no longer knows (error 458; a poll gets HTTP
404), or a server that stops answering or keeps refusing polls, ends every handle
(``on_gone``); a refused poll is retried after a pause, never in a tight loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any, Final

import aiohttp

log = logging.getLogger("voxpipe.edge.janus")

# Janus answers a long poll after 30 s at most (a keepalive): past this it is gone.
POLL_TIMEOUT_S: Final = 45.0
REQUEST_TIMEOUT_S: Final = 10.0
# Consecutive failed polls (Janus unreachable) before the session counts as gone.
MAX_POLL_FAILURES: Final = 5
POLL_RETRY_S: Final = 0.5
EVENTS_PER_POLL: Final = 10
NO_SUCH_SESSION: Final = 458
HTTP_NOT_FOUND: Final = 404

Json = dict[str, Any]


class JanusError(RuntimeError):
    """Janus (or a plugin) refused a request: ``code`` and ``reason`` as it said."""

    def __init__(self, what: str, code: int, reason: str) -> None:
        super().__init__(f"janus {what}: error {code}: {reason}")
        self.code = code
        self.reason = reason


def _transaction() -> str:
    return secrets.token_hex(8)


class JanusHandle:
    """One attached plugin (``attach``): its requests and the events it sends.

    ``on_event`` gets the plugin data (``plugindata.data``) of every event that answers
    no request of ours, and Janus's own handle events (``hangup``, ``detached``...) as
    they came; ``on_gone`` is called once when the handle or its session ends."""

    def __init__(self, session: JanusSession, handle_id: int, plugin: str) -> None:
        self.session = session
        self.id = handle_id
        self.plugin = plugin
        self.on_event: Callable[[Json], None] = lambda event: None
        self.on_gone: Callable[[str], None] = lambda reason: None
        self.gone = False

    async def request(self, body: Json) -> Json:
        """A synchronous plugin request (e.g. AudioBridge ``create``): its answer's data."""
        reply = await self.session.post(f"/{self.id}", {"janus": "message", "body": body})
        return self._data(body, reply)

    async def message(self, body: Json, timeout_s: float = REQUEST_TIMEOUT_S) -> Json:
        """An asynchronous plugin request (e.g. AudioBridge ``join``): Janus acks it, and
        the answer is the event with its transaction."""
        transaction = _transaction()
        waiter = self.session.expect(transaction)
        try:
            reply = await self.session.post(f"/{self.id}", {"janus": "message", "body": body},
                                            transaction=transaction)
            if reply.get("janus") != "ack":
                return self._data(body, reply)
            event = await asyncio.wait_for(asyncio.shield(waiter), timeout_s)
        finally:
            self.session.forget(transaction)
        return self._data(body, event)

    def _data(self, body: Json, reply: Json) -> Json:
        what = str(body.get("request", "message"))
        if reply.get("janus") == "error":
            error = reply.get("error", {})
            raise JanusError(what, int(error.get("code", 0)), str(error.get("reason", "")))
        data = reply.get("plugindata", {}).get("data", {})
        if not isinstance(data, dict):
            raise JanusError(what, 0, f"unexpected answer {reply!r:.200}")
        if "error_code" in data:
            raise JanusError(what, int(data["error_code"]), str(data.get("error", "")))
        return data

    async def detach(self) -> None:
        """Detach from the plugin (the plugin forgets this handle's state)."""
        if not self.gone:
            self.gone = True
            await self.session.post(f"/{self.id}", {"janus": "detach"})

    def end(self, reason: str) -> None:
        if not self.gone:
            self.gone = True
            self.on_gone(reason)


class JanusSession:
    """One Janus session at ``url`` (e.g. ``http://127.0.0.1:8088/janus``); ``open``
    creates it and starts polling, ``destroy`` ends it."""

    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url = url.rstrip("/")
        self.http = http
        self.id = 0
        self.handles: dict[int, JanusHandle] = {}
        self.events = 0
        self.poll_failures = 0
        self.unmatched_events = 0
        self._waiting: dict[str, asyncio.Future[Json]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._gone = False

    async def open(self) -> None:
        reply = await self._post(self.url, {"janus": "create"})
        self._check("create", reply)
        self.id = int(reply["data"]["id"])
        self._poller = asyncio.get_running_loop().create_task(self._poll(),
                                                              name=f"janus-poll-{self.id}")

    async def attach(self, plugin: str) -> JanusHandle:
        reply = await self.post("", {"janus": "attach", "plugin": plugin})
        handle = JanusHandle(self, int(reply["data"]["id"]), plugin)
        self.handles[handle.id] = handle
        return handle

    async def destroy(self) -> None:
        """Stop polling and destroy the session (Janus detaches what is still attached)."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self.id and not self._gone:
            self._gone = True
            await self.post("", {"janus": "destroy"})

    # -- requests ---------------------------------------------------------------------
    async def post(self, path: str, body: Json, transaction: str | None = None) -> Json:
        """POST ``body`` to ``<url>/<session><path>``; Janus's answer (errors raised,
        except a plugin's, which the handle reads)."""
        reply = await self._post(f"{self.url}/{self.id}{path}", body, transaction)
        if reply.get("janus") == "error" and body.get("janus") != "message":
            self._check(str(body.get("janus")), reply)
        return reply

    async def _post(self, url: str, body: Json, transaction: str | None = None) -> Json:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        body = {**body, "transaction": transaction or _transaction()}
        async with self.http.post(url, json=body, timeout=timeout) as resp:
            reply = await resp.json(content_type=None)
        if not isinstance(reply, dict):
            raise JanusError(str(body.get("janus")), 0, f"not a JSON object: {reply!r:.200}")
        return reply

    @staticmethod
    def _check(what: str, reply: Json) -> None:
        if reply.get("janus") == "error":
            error = reply.get("error", {})
            raise JanusError(what, int(error.get("code", 0)), str(error.get("reason", "")))

    def expect(self, transaction: str) -> asyncio.Future[Json]:
        """The future of the event that will answer ``transaction``."""
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = future
        return future

    def forget(self, transaction: str) -> None:
        future = self._waiting.pop(transaction, None)
        if future is not None and not future.done():
            future.cancel()

    # -- events -----------------------------------------------------------------------
    async def _poll(self) -> None:
        timeout = aiohttp.ClientTimeout(total=POLL_TIMEOUT_S)
        failures = 0
        while True:
            failure = ""
            try:
                async with self.http.get(f"{self.url}/{self.id}",
                                         params={"maxev": str(EVENTS_PER_POLL)},
                                         timeout=timeout) as resp:
                    status = resp.status
                    reply = await resp.json(content_type=None) if status == 200 else None
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                failure = f"janus unreachable: {exc or type(exc).__name__}"
            else:
                if status == HTTP_NOT_FOUND:  # how the HTTP transport says 458 to a poll
                    self._end("janus forgot the session")
                    return
                events = reply if isinstance(reply, list) else [reply]
                for event in events:
                    if isinstance(event, dict) and not self._dispatch(event):
                        return
                if status != 200 or not all(isinstance(e, dict) and e.get("janus") != "error"
                                            for e in events):
                    failure = f"janus refused the poll: HTTP {status} {str(reply)[:200]}"
            if not failure:
                failures = 0
                continue
            failures += 1
            self.poll_failures += 1
            log.warning("janus session %d: poll failed (%d): %s", self.id, failures, failure)
            if failures >= MAX_POLL_FAILURES:
                self._end(failure)
                return
            await asyncio.sleep(POLL_RETRY_S)

    def _dispatch(self, event: Json) -> bool:
        """Route one event; False once the session is gone."""
        kind = event.get("janus")
        if kind == "keepalive":
            return True
        self.events += 1
        if kind == "error" and event.get("error", {}).get("code") == NO_SUCH_SESSION:
            self._end("janus forgot the session")
            return False
        waiter = self._waiting.pop(str(event.get("transaction", "")), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(event)
            return True
        handle = self.handles.get(int(event.get("sender", 0) or 0))
        if handle is None:
            self.unmatched_events += 1
            return True
        if kind == "detached":
            handle.end("janus detached the handle")
        elif kind == "event":
            data = event.get("plugindata", {}).get("data", {})
            handle.on_event(data if isinstance(data, dict) else {})
        else:
            handle.on_event(event)
        return True

    def _end(self, reason: str) -> None:
        self._gone = True
        for handle in self.handles.values():
            handle.end(reason)
