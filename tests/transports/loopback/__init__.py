"""The test-only loopback transport: proves that adding a transport is one package plus
one union arm. The edge stage loads it by ``VOXPIPE_TRANSPORT_MODULES=
"loopback=tests.transports.loopback"``; its far end is a ``LoopbackPeer`` in the test."""

from tests.transports.loopback.edge import edge_connection

__all__ = ["edge_connection"]
