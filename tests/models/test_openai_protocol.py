"""Client builders against the openai package's event types; the provider's translation
of every neutral command; the session config's checks."""

from __future__ import annotations

import base64
import json
import typing
from typing import Any

import msgspec
import pydantic
import pytest
from openai.types.beta.realtime import realtime_client_event as beta_client
from openai.types.realtime import realtime_client_event as ga_client

from ipc.schema import (
    AudioPart,
    CancelResponse,
    ClearInput,
    CommitInput,
    ConversationItem,
    CreateItem,
    CreateResponse,
    DeleteItem,
    FunctionCallItem,
    FunctionOutputItem,
    MessageItem,
    ModelCommand,
    SessionSettings,
    TextPart,
    ToolResult,
    ToolSpec,
    Truncate,
    UpdateSession,
)
from pipeline.providers.openai import client_events as ce
from pipeline.providers.openai import translate
from pipeline.providers.openai.config import Protocol, RealtimeSessionConfig, TurnDetection

GA_CLIENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ga_client.RealtimeClientEvent)
BETA_CLIENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(beta_client.RealtimeClientEvent)

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def assert_declared(value: Any, path: str = "$") -> None:
    """openai's models keep unknown keys (extra="allow"): fail on any, at any depth."""
    if isinstance(value, pydantic.BaseModel):
        assert not value.model_extra, f"{path}: undeclared keys {sorted(value.model_extra)}"
        for name in type(value).model_fields:
            assert_declared(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            assert_declared(v, f"{path}[{i}]")


def validate(adapter: pydantic.TypeAdapter[Any], event: dict[str, Any]) -> Any:
    # Through JSON, as the server sees it.
    model = adapter.validate_json(json.dumps(event))
    assert_declared(model)
    assert model.type == event["type"]
    assert isinstance(event["event_id"], str) and event["event_id"]
    return model


PCM = (b"\x01\x00\xff\x7f") * 240

GA_EVENTS = {
    "session.update default": lambda: ce.session_update(RealtimeSessionConfig()),
    "session.update full": lambda: ce.session_update(
        RealtimeSessionConfig(
            instructions="Be brief.",
            voice="marin",
            input_transcription_model="gpt-4o-transcribe",
            tools=(TOOL,),
            tool_choice="get_weather",
            max_response_output_tokens=512,
        )
    ),
    "session.update manual text": lambda: ce.session_update(
        RealtimeSessionConfig(turn_detection=None, output_modalities=("text",), tool_choice="none")
    ),
    "session.update semantic": lambda: ce.session_update(
        RealtimeSessionConfig(turn_detection=TurnDetection(type="semantic_vad", eagerness="low"))
    ),
    "append": lambda: ce.input_audio_append(PCM),
    "commit": ce.input_audio_commit,
    "clear": ce.input_audio_clear,
    "user text": lambda: ce.item_create(ce.user_text_item("hi", item_id="it_1")),
    "user audio": lambda: ce.item_create(ce.user_audio_item(PCM, transcript="hi")),
    "assistant text": lambda: ce.item_create(
        ce.assistant_text_item("hello"), previous_item_id="it_1"
    ),
    "system text": lambda: ce.item_create(ce.system_text_item("rules"), previous_item_id="root"),
    "function call": lambda: ce.item_create(ce.function_call_item("call_1", "f", "{}")),
    "function output": lambda: ce.item_create(ce.function_call_output_item("call_1", '{"t": 3}')),
    "truncate": lambda: ce.item_truncate("it_2", 0, 1234),
    "delete": lambda: ce.item_delete("it_2"),
    "retrieve": lambda: ce.item_retrieve("it_2"),
    "response bare": ce.response_create,
    "response full": lambda: ce.response_create(
        instructions="Say bye.",
        output_modalities=["text"],
        conversation="none",
        metadata={"purpose": "summary"},
    ),
    "cancel": ce.response_cancel,
    "cancel one": lambda: ce.response_cancel("resp_1"),
}


@pytest.mark.parametrize("name", list(GA_EVENTS))
def test_builder_validates_against_ga_union(name: str) -> None:
    validate(GA_CLIENT, GA_EVENTS[name]())


BETA_CFG = RealtimeSessionConfig(
    protocol="beta",
    instructions="Be brief.",
    input_transcription_model="whisper-1",
    tools=[TOOL],
    temperature=0.8,
)

BETA_EVENTS = {
    "session.update": lambda: ce.session_update(BETA_CFG),
    "session.update manual": lambda: ce.session_update(
        RealtimeSessionConfig(protocol="beta", turn_detection=None, output_modalities=("text",))
    ),
    "assistant text": lambda: ce.item_create(ce.assistant_text_item("hello", protocol="beta")),
    "user audio": lambda: ce.item_create(ce.user_audio_item(PCM)),
    "function output": lambda: ce.item_create(ce.function_call_output_item("call_1", "ok")),
    "response": lambda: ce.response_create(
        instructions="x", output_modalities=["audio"], conversation="none", protocol="beta"
    ),
    "truncate": lambda: ce.item_truncate("it_2", 0, 10),
    "append": lambda: ce.input_audio_append(PCM),
}


@pytest.mark.parametrize("name", list(BETA_EVENTS))
def test_beta_builder_validates_against_beta_union(name: str) -> None:
    validate(BETA_CLIENT, BETA_EVENTS[name]())


def test_ga_session_update_carries_the_config() -> None:
    cfg = RealtimeSessionConfig(
        instructions="Be brief.", voice="marin", input_transcription_model="whisper-1",
        tools=(TOOL,), tool_choice="get_weather", max_response_output_tokens=512,
    )  # fmt: skip
    s = validate(GA_CLIENT, ce.session_update(cfg)).session
    assert s.type == "realtime" and s.instructions == "Be brief."
    assert s.output_modalities == ["audio"] and s.max_output_tokens == 512
    assert s.audio.input.format.rate == 24000 and s.audio.output.voice == "marin"
    assert s.audio.input.transcription.model == "whisper-1"
    td = s.audio.input.turn_detection
    assert (td.type, td.threshold, td.prefix_padding_ms, td.silence_duration_ms) == (
        "server_vad", 0.5, 300, 500,
    )  # fmt: skip
    assert td.create_response is True and td.interrupt_response is True
    assert s.tools[0].name == "get_weather" and s.tool_choice.name == "get_weather"


def test_beta_session_update_carries_the_config() -> None:
    s = validate(BETA_CLIENT, ce.session_update(BETA_CFG)).session
    assert s.modalities == ["text", "audio"] and s.voice == "alloy"
    assert s.input_audio_format == "pcm16" and s.output_audio_format == "pcm16"
    assert s.input_audio_transcription.model == "whisper-1" and s.temperature == 0.8
    assert s.turn_detection.type == "server_vad" and s.tools[0].name == "get_weather"
    assert s.max_response_output_tokens == "inf"


def test_null_fields_are_sent_explicitly_to_switch_features_off() -> None:
    ev = ce.session_update(RealtimeSessionConfig(turn_detection=None))
    audio_in = ev["session"]["audio"]["input"]
    assert audio_in["turn_detection"] is None and audio_in["transcription"] is None


def test_the_encoded_append_is_the_dict_builders_event() -> None:
    """The hot path's append (a struct, base64 written by msgspec) says what the dict
    builder says, and validates against the published schema."""
    fast = json.loads(ce.input_audio_append_json(PCM))
    slow = ce.input_audio_append(PCM)
    assert list(fast) == list(slow)
    assert {**fast, "event_id": ""} == {**slow, "event_id": ""}
    assert fast["event_id"] != slow["event_id"]
    validate(GA_CLIENT, fast)
    validate(BETA_CLIENT, fast)
    for bad in (b"\x00\x01\x02", b""):
        with pytest.raises(ValueError, match="int16"):
            ce.input_audio_append_json(bad)


def test_append_round_trips_pcm_and_rejects_partial_samples() -> None:
    ev = ce.input_audio_append(memoryview(PCM))
    assert base64.b64decode(ev["audio"]) == PCM
    with pytest.raises(ValueError, match="int16"):
        ce.input_audio_append(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="int16"):
        ce.input_audio_append(b"")
    with pytest.raises(ValueError, match="audio_end_ms"):
        ce.item_truncate("it", 0, -1)


def test_event_ids_are_unique() -> None:
    ids = {ce.input_audio_commit()["event_id"] for _ in range(1000)}
    assert len(ids) == 1000


def test_response_create_beta_uses_modalities() -> None:
    ev = ce.response_create(output_modalities=("text",), protocol="beta")
    assert ev["response"] == {"modalities": ["text"]}
    assert "response" not in ce.response_create()


# -- config ---------------------------------------------------------------------------

BAD_CONFIGS: list[tuple[dict[str, Any], str]] = [
    ({"model": ""}, "RealtimeSessionConfig.model"),
    ({"voice": " "}, "RealtimeSessionConfig.voice"),
    ({"input_sample_rate": 22050}, "RealtimeSessionConfig.input_sample_rate"),
    ({"output_sample_rate": 0}, "RealtimeSessionConfig.output_sample_rate"),
    ({"protocol": "beta", "input_sample_rate": 16000}, "input_sample_rate must be 24000"),
    ({"protocol": "v2"}, "RealtimeSessionConfig.protocol"),
    ({"tools": ({"name": ""},)}, r"RealtimeSessionConfig.tools\[0\].name"),
    ({"tools": ({"name": "f", "strict": True},)}, r"tools\[0\] has unknown keys \['strict'\]"),
    ({"tools": ({"name": "f", "type": "mcp"},)}, r"tools\[0\].type"),
    ({"tools": ({"name": "f"}, {"name": "f"})}, r"tools\[1\].name 'f' is used"),
    ({"tools": ({"name": "f", "parameters": "x"},)}, r"tools\[0\].parameters"),
    ({"tool_choice": "g"}, "RealtimeSessionConfig.tool_choice"),
    ({"protocol": "beta", "tools": ({"name": "f"},), "tool_choice": "f"}, "protocol 'ga'"),
    ({"temperature": 0.8}, "RealtimeSessionConfig.temperature is not part of the GA"),
    ({"protocol": "beta", "temperature": 2.0}, r"RealtimeSessionConfig.temperature must be"),
    ({"max_response_output_tokens": 0}, "RealtimeSessionConfig.max_response_output_tokens"),
    ({"max_response_output_tokens": 5000}, "RealtimeSessionConfig.max_response_output_tokens"),
    ({"output_modalities": ()}, "RealtimeSessionConfig.output_modalities"),
    ({"output_modalities": ("audio", "text")}, "RealtimeSessionConfig.output_modalities"),
    ({"output_modalities": ("video",)}, "RealtimeSessionConfig.output_modalities"),
    ({"input_transcription_model": ""}, "RealtimeSessionConfig.input_transcription_model"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_CONFIGS)
def test_config_rejects_bad_field_naming_it(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RealtimeSessionConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 1.5}, "TurnDetection.threshold"),
        ({"prefix_padding_ms": -1}, "TurnDetection.prefix_padding_ms"),
        ({"silence_duration_ms": 0}, "TurnDetection.silence_duration_ms"),
        ({"type": "client_vad"}, "TurnDetection.type"),
        ({"eagerness": "eager"}, "TurnDetection.eagerness"),
    ],
)
def test_turn_detection_rejects_bad_field(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TurnDetection(**kwargs)


def test_config_defaults_and_wire_round_trip() -> None:
    cfg = RealtimeSessionConfig(tools=[TOOL], input_transcription_model="whisper-1")
    assert cfg.tools == (TOOL,) and cfg.output_modalities == ("audio",)
    assert cfg.turn_detection == TurnDetection()
    assert (cfg.input_sample_rate, cfg.output_sample_rate, cfg.protocol) == (24000, 24000, "ga")
    for codec in (msgspec.json, msgspec.msgpack):
        assert codec.decode(codec.encode(cfg), type=RealtimeSessionConfig) == cfg
    # Decoding re-runs the checks, so a bad start message cannot build a bad config.
    with pytest.raises(msgspec.ValidationError, match=r"RealtimeSessionConfig\.voice"):
        msgspec.json.decode(b'{"voice": ""}', type=RealtimeSessionConfig)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(b'{"voices": "x"}', type=RealtimeSessionConfig)


def test_the_declared_keys_check_catches_a_stray_key() -> None:
    ev = ce.item_delete("it_1")
    ev["item"] = {"id": "it_1"}
    with pytest.raises(AssertionError, match="undeclared keys"):
        validate(GA_CLIENT, ev)


# -- the provider seam: every neutral command, as the OpenAI provider sends it ----------

NEUTRAL_TOOL = ToolSpec(name="get_weather", description="Weather for a city.",
                        parameters=typing.cast(dict[str, Any], TOOL["parameters"]))
FULL_SETTINGS = SessionSettings(
    instructions="Be brief.", voice="marin", temperature=0.8,
    turn_detection=TurnDetection(type="semantic_vad", eagerness="low"),
    input_transcription_model="whisper-1", tools=(NEUTRAL_TOOL,), tool_choice="required",
    max_output_tokens=512,
)  # fmt: skip
NEUTRAL_COMMANDS: list[ModelCommand] = [
    UpdateSession(settings=SessionSettings()),
    UpdateSession(settings=FULL_SETTINGS),
    UpdateSession(settings=SessionSettings(turn_detection=None, modalities=("text",))),
    CreateItem(item=MessageItem(item_id="it_1", role="user",
                                content=(TextPart("hi"), AudioPart(PCM, 24000, "hi")))),
    CreateItem(item=MessageItem(role="assistant", content=(TextPart("hello"),)),
               previous_item_id="it_1"),
    CreateItem(item=MessageItem(role="system", content=(TextPart("rules"),)),
               previous_item_id="root"),
    CreateItem(item=FunctionCallItem(item_id="it_3", call_id="call_1", name="f",
                                     arguments="{}")),
    CreateItem(item=FunctionOutputItem(call_id="call_1", output='{"t": 3}')),
    DeleteItem(item_id="it_2"),
    CreateResponse(),
    CreateResponse(instructions="Say bye.", modalities=("text",)),
    CancelResponse(),
    CancelResponse(response_id="resp_1"),
    CommitInput(),
    ClearInput(),
    ToolResult(call_id="call_1", output='{"t": 3}'),
    Truncate(item_id="it_2", content_index=0, audio_end_ms=1234),
]


def test_neutral_commands_cover_the_union() -> None:
    assert {type(c) for c in NEUTRAL_COMMANDS} == set(typing.get_args(ModelCommand))
    items = {type(c.item) for c in NEUTRAL_COMMANDS if isinstance(c, CreateItem)}
    assert items == set(typing.get_args(ConversationItem))


@pytest.mark.parametrize("protocol", ["ga", "beta"])
@pytest.mark.parametrize("index", range(len(NEUTRAL_COMMANDS)))
def test_openai_provider_translates_every_command_into_a_valid_event(
    protocol: Protocol, index: int
) -> None:
    config = translate.realtime_config(SessionSettings(), model="gpt-realtime",
                                       protocol=protocol, input_rate=24000, output_rate=24000)
    event = translate.client_event(NEUTRAL_COMMANDS[index], config)
    validate(GA_CLIENT if protocol == "ga" else BETA_CLIENT, event)


def test_translated_settings_and_items_carry_their_fields() -> None:
    ga = translate.realtime_config(FULL_SETTINGS, model="m", protocol="ga",
                                   input_rate=24000, output_rate=24000)
    s = validate(GA_CLIENT, translate.client_event(UpdateSession(settings=FULL_SETTINGS), ga))
    s = s.session
    assert (s.instructions, s.audio.output.voice) == ("Be brief.", "marin")
    assert s.max_output_tokens == 512
    assert s.audio.input.turn_detection.type == "semantic_vad" and s.tool_choice == "required"
    assert s.tools[0].name == "get_weather" and s.audio.input.transcription.model == "whisper-1"
    assert ga.temperature is None  # the GA session has none: dropped, not refused
    beta = translate.with_settings(BETA_CFG, FULL_SETTINGS)
    assert beta.temperature == 0.8 and beta.max_response_output_tokens == 512
    # A forced tool without tools falls back to auto (nothing to force).
    lone = translate.realtime_config(SessionSettings(tool_choice="f"), model="m",
                                     protocol="ga", input_rate=24000, output_rate=24000)
    assert lone.tool_choice == "auto"
    assert translate.item(MessageItem(role="assistant", content=(TextPart("x"),)), "beta") == (
        ce.assistant_text_item("x", protocol="beta"))
    with pytest.raises(ValueError, match="protocol 'ga' or 'beta'"):
        translate.protocol_of("v3")
    with pytest.raises(ValueError, match="cannot hold audio"):
        MessageItem(role="assistant", content=(AudioPart(PCM, 24000),))
