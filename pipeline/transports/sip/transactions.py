"""SIP transaction state a UAS keeps over UDP (RFC 3261 section 17).

``ServerTransactions`` remembers the last response of every server transaction, so a
retransmitted request is absorbed: it gets that response again and is not acted on
twice. ``Retransmission`` repeats a message on an unreliable transport (timer G for a
2xx until its ACK, timer E for a BYE until its response), doubling from T1 to T2,
and gives up after 64*T1 (timers H and F).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from pipeline.transports.sip.message import BRANCH_COOKIE, SipMessage

T1_S, T2_S = 0.5, 4.0
# Timers H, F, J: how long a transaction lives after its last response.
LIFETIME_S = 64 * T1_S

TransactionKey = tuple[str, str]


def transaction_key(msg: SipMessage, method: str | None = None) -> TransactionKey:
    """The server transaction ``msg`` belongs to: its top Via branch (RFC 3261's magic
    cookie) or, from an RFC 2543 peer, its Call-ID, From tag and CSeq number. An ACK
    to a failure and a CANCEL share the INVITE's branch: ``method`` names the one."""
    branch = msg.branch
    if not branch.startswith(BRANCH_COOKIE):  # the CSeq as written: it may be malformed
        branch = f"{msg.call_id}|{msg.from_tag}|{(msg.get('cseq') or '').split(' ')[0]}"
    sent_by = (msg.get("via") or "").split(";")[0].strip()
    return f"{branch}|{sent_by}", method or msg.method


class ServerTransactions:
    """The last response of each live server transaction."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 lifetime_s: float = LIFETIME_S) -> None:
        self.clock, self.lifetime_s = clock, lifetime_s
        self._last: dict[TransactionKey, tuple[bytes, float]] = {}

    def __contains__(self, key: TransactionKey) -> bool:
        return key in self._last

    def __len__(self) -> int:
        return len(self._last)

    def last(self, key: TransactionKey) -> bytes | None:
        """The response last sent in ``key`` (b"" before any), or None: a new request."""
        found = self._last.get(key)
        return found[0] if found is not None else None

    def record(self, key: TransactionKey, response: bytes = b"") -> None:
        """``response`` is the transaction's latest (b"": started, nothing sent yet)."""
        self._last[key] = (response, self.clock())
        self.prune()

    def prune(self) -> None:
        """Forget the transactions idle for longer than their lifetime."""
        horizon = self.clock() - self.lifetime_s
        for key in [k for k, (_, at) in self._last.items() if at < horizon]:
            del self._last[key]


class Retransmission:
    """``send`` again at T1, 2*T1, ... (at most T2 apart) after the first sending (the
    caller's) until ``stop``; ``on_timeout`` when 64*T1 pass with no ``stop``."""

    def __init__(self, send: Callable[[], None], on_timeout: Callable[[], None], *,
                 t1_s: float = T1_S, t2_s: float = T2_S) -> None:
        self._send, self._on_timeout = send, on_timeout
        self._t1_s, self._t2_s = t1_s, t2_s
        self._task = asyncio.get_running_loop().create_task(self._repeat())

    @property
    def active(self) -> bool:
        return not self._task.done()

    async def _repeat(self) -> None:
        interval, waited = self._t1_s, 0.0
        while waited + interval < 64 * self._t1_s:
            await asyncio.sleep(interval)
            waited += interval
            self._send()
            interval = min(2 * interval, self._t2_s)
        await asyncio.sleep(64 * self._t1_s - waited)
        self._on_timeout()

    def stop(self) -> None:
        self._task.cancel()

