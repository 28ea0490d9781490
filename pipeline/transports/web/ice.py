"""Which local addresses a peer connection offers as its ICE host candidates.

aioice gathers host candidates on every interface but loopback (its module-level
``get_host_addresses``), and aiortc gives no way to choose them. A server that must
keep its media on this machine (tests, a loopback-only deployment) or on one network
names its addresses: :func:`host_addresses` restricts the gathering done inside its
``with`` block — in practice one peer connection's ``setLocalDescription`` — to them.
The restriction lives in a context variable, so the tasks aiortc starts to gather
inherit it and other peer connections in the same process are untouched; an empty
tuple keeps aioice's own choice (every interface but loopback).
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Final

import aioice.ice

_RESTRICTED: Final[ContextVar[tuple[str, ...]]] = ContextVar("voxpipe_ice_host_addresses",
                                                             default=())
_aioice_host_addresses: Callable[[bool, bool], list[str]] | None = None


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """aioice's ``get_host_addresses``, narrowed to the context's addresses if any."""
    assert _aioice_host_addresses is not None
    restricted = _RESTRICTED.get()
    if not restricted:
        return _aioice_host_addresses(use_ipv4, use_ipv6)
    return [a for a in restricted
            if (use_ipv4 if ipaddress.ip_address(a).version == 4 else use_ipv6)]


def _install() -> None:
    global _aioice_host_addresses
    if _aioice_host_addresses is None:
        _aioice_host_addresses = aioice.ice.get_host_addresses
        aioice.ice.get_host_addresses = _host_addresses


def check_addresses(addresses: Sequence[str]) -> tuple[str, ...]:
    """The addresses as given, each a literal IPv4/IPv6 address (ValueError if not)."""
    for a in addresses:
        ipaddress.ip_address(a)
    return tuple(addresses)


@contextlib.contextmanager
def host_addresses(addresses: Sequence[str]) -> Iterator[None]:
    """ICE host candidates gathered within the block are on ``addresses`` only
    (all of aioice's when empty)."""
    _install()
    token = _RESTRICTED.set(check_addresses(addresses))
    try:
        yield
    finally:
        _RESTRICTED.reset(token)
