"""The GIL-release proof itself: it sees a call that releases the GIL and never one
that holds it (the controls are standard-library calls with known GIL behaviour)."""

from __future__ import annotations

import hashlib

from tests.native.gil import prove_gil_released

BIG = bytes(range(256)) * (1 << 16)  # 16 MiB


def test_sees_a_call_that_releases_the_gil() -> None:
    # hashlib drops the GIL while hashing more than 2 KiB.
    proof = prove_gil_released(lambda: hashlib.sha256(BIG).digest())
    print(f"proved at attempt {proof.proved_at}")
    assert proof.released and proof.probes_during == [None]


def test_never_sees_a_call_that_holds_the_gil() -> None:
    # bytes.count holds the GIL for the whole scan: the checker cannot run inside it.
    proof = prove_gil_released(lambda: BIG.count(b"\xff\x00"), attempts=5)
    assert not proof.released and proof.attempts == 5
    assert proof.probes == [None] * 5  # it ran after each call, never during one
    assert proof.probes_during == []


def test_a_failing_probe_is_reported_not_raised() -> None:
    def probe() -> None:
        raise RuntimeError("busy")

    proof = prove_gil_released(lambda: hashlib.sha256(BIG).digest(), probe)
    assert proof.released
    assert [str(p) for p in proof.probes_during] == ["busy"]
