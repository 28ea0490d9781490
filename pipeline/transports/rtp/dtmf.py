"""RFC 4733 telephone-events: one ``DtmfReceived`` per key press.

A sender reports a press as a run of packets sharing one RTP timestamp (the press's
start): repeated starts while the key is down, each with the duration so far, then
the end bit, retransmitted (three times, RFC 4733 2.5.1.4). So the timestamp is the
press's identity: the press is reported once, when its first end packet arrives,
with that packet's duration; a press whose end packets were all lost is reported
when the next press (or the end of the stream) shows it is over. Event codes 0-15
are the DTMF keys; others (flash, tones) are counted and ignored.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from ipc.schema import DtmfReceived

DIGITS: Final = "0123456789*#ABCD"
CLOCK_RATE: Final = 8000  # telephone-event's RTP clock in the SDP this endpoint answers
_REPORTED_MEMORY: Final = 16


class TelephoneEvents:
    """Decodes one stream's telephone-event payloads into key presses."""

    def __init__(self, clock_rate: int = CLOCK_RATE) -> None:
        self.clock_rate = clock_rate
        self.malformed = 0
        self.ignored = 0
        self.presses = 0
        self._current: tuple[int, int, int] | None = None  # timestamp, code, duration
        self._reported: deque[int] = deque(maxlen=_REPORTED_MEMORY)

    def push(self, timestamp: int, payload: bytes) -> list[DtmfReceived]:
        """One telephone-event packet; the presses it completes (none, one or two)."""
        if len(payload) < 4:
            self.malformed += 1
            return []
        code, flags = payload[0], payload[1]
        duration = int.from_bytes(payload[2:4], "big")
        if timestamp in self._reported:
            return []  # an end retransmit, or a straggler of a press already reported
        out: list[DtmfReceived] = []
        if self._current is not None and self._current[0] != timestamp:
            out.append(self._finish())
        if code >= len(DIGITS):
            self.ignored += 1
            self._reported.append(timestamp)
            return out
        self._current = (timestamp, code, duration)
        if flags & 0x80:
            out.append(self._finish())
        return out

    def flush(self) -> list[DtmfReceived]:
        """The stream ended: a press still down (its end lost) is reported now."""
        return [self._finish()] if self._current is not None else []

    def _finish(self) -> DtmfReceived:
        assert self._current is not None
        timestamp, code, duration = self._current
        self._current = None
        self._reported.append(timestamp)
        self.presses += 1
        return DtmfReceived(DIGITS[code], code, duration * 1000 // self.clock_rate)
