"""Keeps the ported agents' web lookups on this machine (the tests' edge we cannot reach).

livekit's ``openai_agent.py`` fetches ``https://wttr.in/<location>`` with aiohttp. In the
agent process of a port test (``PYTHONPATH`` holds this directory), requests to that
host go to ``$VOXPIPE_TEST_WTTR_URL`` (a stub the test serves on 127.0.0.1) instead:
same path and query, so the test sees what the tool asked for.
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp
from yarl import URL

_STUB = os.environ.get("VOXPIPE_TEST_WTTR_URL")
_original = aiohttp.ClientSession._request


async def _request(self: aiohttp.ClientSession, method: str, str_or_url: Any,
                   **kwargs: Any) -> aiohttp.ClientResponse:
    url = URL(str(str_or_url))
    if _STUB and url.host == "wttr.in":
        stub = URL(_STUB)
        url = url.with_scheme(stub.scheme).with_host(stub.host or "").with_port(stub.port)
    return await _original(self, method, url, **kwargs)


aiohttp.ClientSession._request = _request  # type: ignore[method-assign]
