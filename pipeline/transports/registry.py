"""Finds a transport's stage-side code by its tag.

``kind`` -> ``pipeline.transports.<kind>`` by convention; the environment variable
``VOXPIPE_TRANSPORT_MODULES="loopback=tests.transports.loopback,..."`` maps kinds to
out-of-tree modules (the test-only loopback transport lives in ``tests/``). It is
read in the stage process, which inherits the supervisor's environment.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final, cast

from pipeline.process import module_overrides
from pipeline.transports.base import EdgeConnection, EdgeConnector

MODULES_ENV: Final = "VOXPIPE_TRANSPORT_MODULES"


def transport_module(kind: str) -> str:
    """The module that holds ``kind``'s stage half."""
    return module_overrides(MODULES_ENV).get(kind, f"pipeline.transports.{kind}")


def edge_connector(kind: str) -> EdgeConnector:
    """``kind``'s ``edge_connection`` factory; LookupError names what is missing."""
    name = transport_module(kind)
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise LookupError(f"transport {kind!r}: cannot import {name} ({exc})") from exc
    connector = getattr(module, "edge_connection", None)
    if not callable(connector):
        raise LookupError(f"transport {kind!r}: {name} has no edge_connection")
    return cast(EdgeConnector, connector)


if TYPE_CHECKING:  # mypy holds every live transport's connection to the protocol
    from pipeline.transports.janus.connection import JanusConnection
    from pipeline.transports.livekit.connection import LiveKitConnection
    from pipeline.transports.sip.connection import SipConnection
    from pipeline.transports.twilio.connection import TwilioConnection
    from pipeline.transports.web.connection import WebConnection

    _CONNECTIONS: tuple[type[EdgeConnection], ...] = (
        JanusConnection, LiveKitConnection, SipConnection, TwilioConnection, WebConnection)
