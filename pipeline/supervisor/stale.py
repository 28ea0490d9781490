"""Clean up after a supervisor that was SIGKILLed: its runtime dir and socket files."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_runtime_dirs(parent: str | None = None) -> list[Path]:
    """Remove ``voxpipe-*`` runtime dirs whose owning supervisor is gone."""
    removed = []
    bases = {parent or os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir(),
             tempfile.gettempdir()}
    for base in bases:
        try:
            candidates = list(Path(base).glob("voxpipe-*"))
        except OSError:
            continue
        for d in candidates:
            owner = d / "owner.pid"
            try:
                pid = int(owner.read_text().strip())
            except (OSError, ValueError):
                continue  # not ours to judge (no owner file yet, or unreadable)
            if pid != os.getpid() and not _alive(pid):
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
    return removed
