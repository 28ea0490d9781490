"""The private directory that holds a run's ``ipc://`` endpoints.

Mode 0700 so no other user can connect to a stage; short paths because an
``ipc://`` endpoint is a unix socket path, limited to 107 bytes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


class RuntimeDir:
    """Owns the directory; ``remove()`` deletes it and every socket file in it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, parent: str | None = None) -> RuntimeDir:
        base = parent or os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
        if not os.access(base, os.W_OK):
            base = tempfile.gettempdir()
        path = Path(tempfile.mkdtemp(prefix="voxpipe-", dir=base))
        os.chmod(path, 0o700)
        return cls(path)

    def endpoint(self, name: str) -> str:
        """The ``ipc://`` endpoint called ``name`` inside this directory."""
        return f"ipc://{self.path / name}"

    def inbox(self, worker: str) -> str:
        """The data PULL endpoint a stage worker binds (``dsp``, or ``dsp.1`` of a sharded
        stage: ``ipc/shards.py``)."""
        return self.endpoint(f"{worker}.in")

    @property
    def control(self) -> str:
        return self.endpoint("control")

    @property
    def events(self) -> str:
        return self.endpoint("events")

    def socket_files(self) -> list[Path]:
        if not self.path.exists():
            return []
        return sorted(p for p in self.path.iterdir() if p.is_socket())

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
