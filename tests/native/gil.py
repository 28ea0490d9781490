"""Deterministic proof that a call releases the GIL: another Python thread runs during it.

No clock and no throughput ratio, so machine load cannot fail a kernel that releases
the GIL, and nothing can pass one that holds it. The switch interval is raised to a
minute for the proof, so the caller thread only gives up the GIL voluntarily (a
``nogil`` section, a blocking lock). Each attempt:

1. the caller releases ``go``; the checker thread, blocked on it, becomes runnable but
   needs the GIL, which the caller still holds;
2. the caller reads ``count``, makes the call, reads ``count`` again;
3. the checker, whenever it gets the GIL, runs ``probe``, increments ``count`` and
   blocks on ``go`` again, which hands the GIL back.

The checker can only have incremented ``count`` between the caller's two reads if the
call released the GIL: with the GIL held throughout it cannot run one bytecode. A
released GIL may still be missed (the checker was not scheduled in time), so attempts
repeat until one shows it; a missed attempt only costs another call.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# Longer than any test: the interpreter never forces a switch away from the caller.
_SWITCH_INTERVAL_S = 60.0


@dataclass
class GilProof:
    """What the checker saw: the attempt that proved a release, and each probe's result."""

    attempts: int = 0
    proved_at: int | None = None  # 1-based attempt during which the checker ran
    probes: list[object] = field(default_factory=list)  # checker's results, in order
    probes_during: list[object] = field(default_factory=list)  # those inside the call

    @property
    def released(self) -> bool:
        return self.proved_at is not None


@contextmanager
def _no_forced_switch() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(_SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def prove_gil_released(
    call: Callable[[], object],
    probe: Callable[[], object] = lambda: None,
    attempts: int = 200,
) -> GilProof:
    """Make ``call`` up to ``attempts`` times until a second thread ran inside one.

    ``probe`` is what the checker thread does when it runs (its results are kept, the
    ones that ran inside a call apart), e.g. touch the same object to show that is
    refused. Returns at the first attempt that proves a release.
    """
    proof = GilProof()
    go, done = threading.Lock(), threading.Lock()
    go.acquire()
    done.acquire()
    count = [0]
    stop = [False]

    def checker() -> None:
        while True:
            go.acquire()
            if stop[0]:
                return
            try:
                result = probe()
            except Exception as exc:  # kept for the test to assert on; the checker lives on
                result = exc
            proof.probes.append(result)
            count[0] += 1
            done.release()

    thread = threading.Thread(target=checker, name="gil-checker", daemon=True)
    with _no_forced_switch():
        thread.start()
        try:
            for attempt in range(1, attempts + 1):
                proof.attempts = attempt
                seen = len(proof.probes)
                before = count[0]
                go.release()
                try:
                    call()
                finally:
                    after = count[0]
                    done.acquire()  # blocks: the checker runs (if it has not yet), waits again
                if after != before:
                    proof.proved_at = attempt
                    proof.probes_during.extend(proof.probes[seen:])
                    break
        finally:
            stop[0] = True
            go.release()
            thread.join()
    return proof
