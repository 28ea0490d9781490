"""The provider-neutral model commands and the session's model spec on the control wire."""

from __future__ import annotations

import msgspec
import pytest

from ipc.schema import (
    AudioPart,
    CancelResponse,
    ClearInput,
    CommitInput,
    CreateItem,
    CreateResponse,
    DeleteItem,
    FileTransport,
    FunctionCallItem,
    FunctionOutputItem,
    MessageItem,
    ModelCommands,
    ModelSpec,
    SessionConfig,
    SessionSettings,
    SessionStart,
    TextPart,
    ToolResult,
    ToolSpec,
    Truncate,
    TurnDetection,
    UpdateSession,
    control_decoder,
    control_encoder,
)
from ipc.sockets import decode_control
from ipc.stats import StageStats

SETTINGS = SessionSettings(
    instructions="Be brief.", temperature=0.7, turn_detection=TurnDetection(threshold=0.6),
    input_transcription_model="whisper-1", max_output_tokens=300, tool_choice="f",
    tools=(ToolSpec(name="f", description="d", parameters={"type": "object"}),),
)  # fmt: skip
COMMANDS = ModelCommands("s1", [
    UpdateSession(settings=SETTINGS),
    CreateItem(item=MessageItem(item_id="u1", role="user",
                                content=(TextPart("hi"), AudioPart(b"\x00\x01", 16000)))),
    CreateItem(item=FunctionCallItem(call_id="c", name="f", arguments="{}"), previous_item_id="u1"),
    CreateItem(item=FunctionOutputItem(call_id="c", output="1")),
    DeleteItem(item_id="u1"), CreateResponse(modalities=("text",)), CancelResponse(),
    CommitInput(), ClearInput(), ToolResult(call_id="c", output="2"),
    Truncate(item_id="a1", content_index=0, audio_end_ms=120),
])  # fmt: skip


def test_model_commands_round_trip() -> None:
    wire = control_encoder.encode(COMMANDS)
    assert control_decoder.decode(wire) == COMMANDS
    stats = StageStats()
    assert decode_control([wire], stats) == COMMANDS and not stats.counters


def test_session_start_carries_the_whole_model_spec() -> None:
    spec = ModelSpec(url="ws://127.0.0.1:1/v1", api_key="k", name="m", protocol="beta",
                     max_session_s=60.0, settings=SETTINGS)
    cfg = SessionConfig(session="s1", t0_ns=1, out_dir="/tmp/x",
                        transport=FileTransport("/tmp/in.wav", 16000, 1, 100),
                        model_rate=16000, provider="fake", model=spec)
    msg = SessionStart(cfg)
    assert control_decoder.decode(control_encoder.encode(msg)) == msg
    default = SessionConfig(session="s", t0_ns=0, out_dir="",
                            transport=FileTransport("", 1, 1, 0))
    assert (default.provider, default.model.settings.turn_detection) == ("openai",
                                                                         TurnDetection())


def test_bad_commands_fail_at_the_receive_boundary() -> None:
    good = msgspec.to_builtins(COMMANDS.commands[0])
    bad_td = {**good, "settings": {**good["settings"],
                                   "turn_detection": {"threshold": 2.0}}}
    wire = msgspec.msgpack.encode(["mcmd", "s1", [bad_td]])
    with pytest.raises(msgspec.ValidationError, match=r"TurnDetection\.threshold"):
        control_decoder.decode(wire)
    assistant_audio = {"cmd": "create_item", "item": {
        "kind": "message", "role": "assistant",
        "content": [{"part": "audio", "pcm": b"\x00\x00", "sample_rate": 24000}]}}
    wire = msgspec.msgpack.encode(["mcmd", "s1", [assistant_audio]])
    stats = StageStats()
    assert decode_control([wire], stats) is None and sum(stats.counters.values()) == 1
