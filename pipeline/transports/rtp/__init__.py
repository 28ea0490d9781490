"""Shared RTP media for the telephony transports (SIP, Janus): not a transport kind.

``packet`` parses and builds RTP headers (RFC 3550), ``jitter`` puts the caller's
packets back in order and says which were lost, ``dtmf`` turns RFC 4733
telephone-events into one ``DtmfReceived`` per key press, ``latch`` is symmetric
RTP's rule of whose packets count, and ``connection`` is the ``EdgeConnection``
over one UDP socket that the transports subclass; each subclass only says how
the far end's address is learned. The codec is G.711 (``native.g711``), 8 kHz.
"""
