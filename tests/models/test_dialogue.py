"""The dialogue engine's decisions and the tool matcher, without a server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from pipeline.model_server.dialogue.engine import (
    DialogueReplyEngine,
    Directives,
    answer_from_outputs,
    answer_words,
    merged_directives,
    parse_directives,
    render,
)
from pipeline.model_server.dialogue.tool_matcher import (
    match_tool,
    parse_numbers,
    tokens_of,
    tool_hints,
)
from pipeline.model_server.protocol.conversation import ContentPart, Item
from pipeline.model_server.protocol.reply_engine import Reply, ReplyRequest, UserTurn

WEATHER: dict[str, Any] = {
    "type": "function", "name": "get_weather",
    "description": "Get the current weather for a location.",
    "parameters": {"type": "object", "properties": {
        "location": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    }, "required": ["location"]},
}
TIMER: dict[str, Any] = {
    "type": "function", "name": "set_timer", "description": "Start a countdown.",
    "parameters": {"type": "object", "properties": {
        "duration_seconds": {"type": "integer"}, "label": {"type": "string"},
    }, "required": ["duration_seconds"]},
}
LIGHTS: dict[str, Any] = {
    "type": "function", "name": "set_lights", "description": "Switch the lights of a room.",
    "parameters": {"type": "object", "properties": {
        "room": {"type": "string", "enum": ["kitchen", "bedroom", "living_room"]},
        "on": {"type": "boolean"},
    }, "required": ["room", "on"]},
}
TABLE: dict[str, Any] = {
    "type": "function", "name": "book_table", "description": "Reserve a restaurant table.",
    "parameters": {"type": "object", "properties": {
        "party_size": {"type": "integer", "description": "number of people"},
        "time": {"type": "string"},
    }, "required": ["party_size"]},
}
TOOLS = [WEATHER, TIMER, LIGHTS, TABLE]


@pytest.mark.parametrize(("words", "name", "arguments"), [
    ("What's the weather in Paris?", "get_weather", {"location": "Paris"}),
    ("what is the weather like in new york today in fahrenheit", "get_weather",
     {"location": "New York", "unit": "fahrenheit"}),
    ("Set a timer for five minutes.", "set_timer", {"duration_seconds": 300}),
    ("set a timer for twenty five seconds", "set_timer", {"duration_seconds": 25}),
    ("Set a timer for 2 hours", "set_timer", {"duration_seconds": 7200}),
    ("Turn on the kitchen lights.", "set_lights", {"room": "kitchen", "on": True}),
    ("Please turn off the bedroom lights.", "set_lights", {"room": "bedroom", "on": False}),
    ("lights on in the living room", "set_lights", {"room": "living_room", "on": True}),
])
def test_auto_choice_calls_the_matching_tool_with_arguments(
        words: str, name: str, arguments: dict[str, Any]) -> None:
    match = match_tool(words, TOOLS)
    assert match is not None, words
    assert (match.name, match.arguments) == (name, arguments)


def test_auto_choice_leaves_unrelated_words_alone() -> None:
    for words in ("Hello, can you hear me?", "What is your name?", "Thank you", ""):
        assert match_tool(words, TOOLS) is None, words


def test_tool_choice_none_required_and_named() -> None:
    assert match_tool("What's the weather in Paris?", TOOLS, "none") is None
    required = match_tool("Hello there", [TIMER, WEATHER], "required")
    assert required is not None and required.name == "set_timer" and required.arguments == {}
    named = match_tool("What's the weather in Paris?", TOOLS, {"type": "function",
                                                               "name": "set_timer"})
    assert named is not None and named.name == "set_timer"
    assert match_tool("anything", TOOLS, {"type": "function", "name": "missing"}) is None
    assert match_tool("weather in Paris", [], "required") is None


def test_numbers_in_words_and_digits() -> None:
    found = parse_numbers(tokens_of("one hundred and twenty three, 4.5 then two thousand ten"))
    assert [n.value for n in found] == [123, 4.5, 2010]
    assert [n.value for n in parse_numbers(tokens_of("nothing here"))] == []


def test_hints_name_tools_parameters_and_enum_values() -> None:
    hints = tool_hints([WEATHER, LIGHTS])
    assert hints == ["weather", "location", "unit", "celsius", "fahrenheit", "light", "room",
                     "kitchen", "bedroom", "living_room", "on"]


def test_directives_from_instructions() -> None:
    d = parse_directives('Your name is Ava. Always answer in UPPERCASE. Start every answer '
                         'with "Well,". Be brief.')
    assert d == Directives(name="Ava", exact=None, prefix="Well,", uppercase=True, brief=True)
    assert parse_directives("You are Bob, a friendly assistant.").name == "Bob"
    assert parse_directives("You are a helpful assistant.").name is None
    assert parse_directives('Say "Good night." and nothing else').exact == "Good night."
    merged = merged_directives("Your name is Ava. Use uppercase.", 'Respond with "Hi."')
    assert merged == Directives(name="Ava", exact="Hi.", uppercase=True)
    assert merged_directives("Your name is Ava.", "Your name is Max.").name == "Max"


@pytest.mark.parametrize(("words", "answer"), [
    ("Hello, can you hear me?", "Hello! I'm Ava. How can I help you?"),
    ("What is your name?", "My name is Ava."),
    ("Thank you, that is all for now.", "You're welcome!"),
    ("OK bye", "Goodbye! Talk to you soon."),
    ("How are you", "I'm doing well, thank you. How can I help you?"),
    ("Book a flight to Mars", "You said: Book a flight to Mars."),
    ("", "Sorry, I didn't catch that."),
])
def test_rule_answers(words: str, answer: str) -> None:
    assert answer_words(words, "Ava") == answer


def test_time_answer_is_a_clock_time() -> None:
    answer = answer_words("What time is it?", None)
    assert answer.startswith("It is ") and answer.endswith(("AM.", "PM.")), answer


def _call(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> Item:
    return Item(id=f"item_{call_id}", type="function_call", name=name, call_id=call_id,
                arguments=json.dumps(arguments))


def _output(output: Any, call_id: str = "call_1") -> Item:
    raw = output if isinstance(output, str) else json.dumps(output)
    return Item(id=f"item_out_{call_id}", type="function_call_output", call_id=call_id,
                output=raw)


def test_answers_from_function_outputs() -> None:
    call = _call("get_weather", {"location": "Paris"})
    out = _output({"temperature": 21, "conditions": "sunny"})
    assert answer_from_outputs([out], (call, out)) == (
        "The weather in Paris is sunny and 21 degrees.")
    out = _output({"temperature": 70.0, "unit": "fahrenheit"})
    assert answer_from_outputs([out], (call, out)) == (
        "The temperature in Paris is 70 degrees fahrenheit.")
    timer = _call("set_timer", {"duration_seconds": 300}, "call_2")
    out2 = _output({"status": "started", "ends_at": "12:05", "ok": True}, "call_2")
    assert answer_from_outputs([out2], (timer, out2)) == (
        "set_timer returned status started, ends at 12:05 and ok yes.")
    plain = _output("done", "call_3")
    assert answer_from_outputs([plain], (plain,)) == "The tool returned done."
    assert render([1, 2.0, None]) == "1, 2 and nothing"


def _request(turn_text: str | None, *, context: tuple[Item, ...] = (), **kw: Any
             ) -> ReplyRequest:
    turn = UserTurn(text=turn_text) if turn_text is not None else None
    return ReplyRequest(turn=turn, instructions="", audio_output=True, context=context, **kw)


def _reply(request: ReplyRequest) -> Reply:
    return asyncio.run(DialogueReplyEngine().reply(request))


def test_engine_decides_call_continuation_and_words() -> None:
    user = Item(id="item_u", type="message", role="user",
                content=[ContentPart(type="input_text", text="What's the weather in Paris?")])
    reply = _reply(_request("What's the weather in Paris?", context=(user,), tools=(WEATHER,)))
    assert reply.function_call is not None
    assert reply.function_call.name == "get_weather"
    assert json.loads(reply.function_call.arguments) == {"location": "Paris"}
    call = _call("get_weather", {"location": "Paris"})
    out = _output({"temperature": 21, "conditions": "sunny"})
    reply = _reply(_request("What's the weather in Paris?", context=(user, call, out),
                            tools=(WEATHER,), session_instructions="Use uppercase."))
    assert reply.function_call is None
    assert reply.text == "THE WEATHER IN PARIS IS SUNNY AND 21 DEGREES."
    reply = _reply(_request("What's the weather in Paris?", tools=(WEATHER,),
                            tool_choice="none"))
    assert reply.text == "You said: What's the weather in Paris?"
    reply = _reply(_request("hi", session_instructions="Your name is Ava.",
                            response_instructions='Say "Bonjour."'))
    assert reply.text == "Bonjour."
    assert _reply(_request(None)).text == "Hello! I'm voxpipe. How can I help you?"


def test_engine_awaits_the_transcript_and_survives_a_failed_decode() -> None:
    async def scenario() -> tuple[str, str]:
        async def decode(text: str) -> str:
            await asyncio.sleep(0.05)
            return text

        async def broken() -> str:
            raise RuntimeError("decoder crashed")

        engine = DialogueReplyEngine()
        ok = UserTurn(transcript=asyncio.create_task(decode("Thanks a lot")))
        bad = UserTurn(transcript=asyncio.create_task(broken()))
        a = await engine.reply(ReplyRequest(turn=ok, instructions="", audio_output=True))
        b = await engine.reply(ReplyRequest(turn=bad, instructions="", audio_output=True))
        return a.text, b.text

    assert asyncio.run(scenario()) == ("You're welcome!", "Sorry, I didn't catch that.")
