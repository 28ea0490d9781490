"""The duck-typed room is faithful to ``livekit.rtc``: every event it emits is one
``rtc.Room`` emits, with the same number of arguments (read from the SDK's source),
and every member the connection uses of the room, its participants and publications
exists on the SDK's classes with the parameters the connection passes."""

from __future__ import annotations

import ast
import inspect
from collections import defaultdict
from pathlib import Path

from livekit import rtc
from livekit.rtc import room as rtc_room

from tests.transports.livekit import duck_room


def _emits(path: Path) -> dict[str, set[int]]:
    """``event -> {argument counts}`` of every ``….emit("event", …)`` call in a file."""
    found: dict[str, set[int]] = defaultdict(set)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == "emit" and node.args and \
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            found[node.args[0].value].add(len(node.args) - 1)
    return found


def test_duck_room_events_are_the_sdks_with_the_sdks_arguments() -> None:
    real = _emits(Path(inspect.getfile(rtc_room)))
    duck = _emits(Path(inspect.getfile(duck_room)))
    # What the tests drive directly (room.emit("reconnecting") ...) is checked too.
    for test in Path(__file__).parent.glob("test_*.py"):
        for event, counts in _emits(test).items():
            duck[event] |= counts
    assert {"participant_connected", "participant_disconnected", "track_published",
            "track_subscribed", "track_unpublished", "reconnecting", "reconnected",
            "disconnected"} <= set(duck)
    for event, counts in duck.items():
        assert counts <= real.get(event, set()), (event, counts, real.get(event))


def _params(fn: object) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p != "self"]  # type: ignore[arg-type]


def test_the_members_the_connection_uses_exist_on_the_sdk() -> None:
    assert _params(rtc.Room.connect)[:3] == ["url", "token", "options"]
    assert callable(rtc.Room.disconnect) and callable(rtc.Room.on)
    for name in ("remote_participants", "local_participant"):
        assert isinstance(inspect.getattr_static(rtc.Room, name), property)
    assert _params(rtc.LocalParticipant.publish_track)[:2] == ["track", "options"]
    assert _params(rtc.LocalParticipant.set_attributes) == ["attributes"]
    assert _params(rtc.LocalParticipant.publish_transcription) == ["transcription"]
    assert _params(rtc.RemoteTrackPublication.set_subscribed) == ["subscribed"]
    for cls, names in ((rtc.RemoteTrackPublication, ("sid", "source", "subscribed", "track")),
                       (rtc.RemoteParticipant, ("identity", "track_publications")),
                       (rtc.LocalParticipant, ("identity",))):
        for name in names:
            assert hasattr(cls, name), (cls.__name__, name)
    assert "auto_subscribe" in _params(rtc.RoomOptions)
