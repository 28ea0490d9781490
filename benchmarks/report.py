"""How every benchmark hands its figures over: JSON on stdout, and to a file when asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(doc: Any, path: Path | None, *, indent: int = 2) -> None:
    """Print ``doc`` as JSON and, with ``path``, write the same text there."""
    text = json.dumps(doc, indent=indent)
    print(text)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
