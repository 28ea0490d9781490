"""``FileRoom``: a call whose caller is a WAV file and whose record is a directory.

The agent half of the file transport: a ``pipeline.agents.room.Room`` whose one
caller publishes the input file as its microphone. ``voxpipe run`` builds one from
``--input``/``--out``/``--fast``; subscribing to the caller's microphone starts the
pipeline session on the file's ``FileTransport``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from pipeline.transports.caller_room import CallerRoom, CallerTrack
from pipeline.transports.file.spec import file_transport

if TYPE_CHECKING:
    from ipc.schema import FileTransport
    from pipeline.agents.room import Room
    from pipeline.supervisor.runtime import Runtime


@dataclass(eq=False)
class FileAudioTrack(CallerTrack):
    """The caller's microphone: the input file."""

    path: Path


class FileRoom(CallerRoom):
    def __init__(self, input_path: Path | str, out_dir: Path | str, *,
                 caller_identity: str = "caller", realtime: bool = True,
                 join_after_s: float = 0.0, named: bool = False) -> None:
        super().__init__(out_dir, caller_identity=caller_identity, join_after_s=join_after_s)
        self.input_path = Path(input_path)
        self.realtime = realtime
        self.named = named  # the session's id is the room's name (its folder's)

    def transport(self) -> FileTransport:
        """The input file's spec (its WAV header is read now)."""
        spec = file_transport(self.input_path, realtime=self.realtime)
        return msgspec.structs.replace(spec, name=self.name) if self.named else spec

    def caller_track(self, sid: str) -> FileAudioTrack:
        return FileAudioTrack(sid, self.input_path)

    async def connect(self, runtime: Runtime) -> None:
        """Enter the room (the input must exist); the caller joins after ``join_after_s``."""
        if not self.input_path.is_file():
            raise FileNotFoundError(f"input not found: {self.input_path}")
        await super().connect(runtime)


def room_for_file(input_path: Path | str, out_dir: Path | str, *, realtime: bool = True,
                  named: bool = False) -> Room:
    """The call of ``voxpipe run --input``: the caller is the file, the record ``out_dir``
    (callers outside this package know the room by its protocol only); ``named``: its
    session's id is ``out_dir``'s name."""
    return FileRoom(input_path, out_dir, realtime=realtime, named=named)
