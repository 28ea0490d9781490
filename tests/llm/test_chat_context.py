"""Chat context: messages, copies, tool messages, and the realtime replay items (neutral,
and as the OpenAI provider puts them on the wire)."""

from __future__ import annotations

import asyncio
import base64

import pytest

from ipc.schema import AudioPart, MessageItem, TextPart
from pipeline.agents import llm
from pipeline.agents.llm import ChatAudio, ChatContext, ChatMessage, create_call_info
from pipeline.providers.openai import translate


def openai_items(ctx: ChatContext, protocol: translate.Protocol = "ga") -> list[dict[str, object]]:
    return [translate.item(i, protocol) for i in ctx.to_realtime_items()]


class Tools(llm.FunctionContext):
    @llm.ai_callable()
    async def lookup(self, order: int) -> dict[str, object]:
        """Look an order up."""
        if order < 0:
            raise ValueError("no such order")
        return {"order": order, "status": "shipped"}


def test_create_and_append() -> None:
    message = ChatMessage.create(text="Be brief.")
    assert (message.role, message.content, message.text) == ("system", "Be brief.", "Be brief.")
    assert message.id is not None and message.id.startswith("item_") and len(message.id) == 21
    assert ChatMessage.create(text="hi", role="user", id="item_x").id == "item_x"
    ctx = ChatContext().append(text="Be brief.").append(text="Hello", role="user")
    assert [(m.role, m.text) for m in ctx.messages] == [("system", "Be brief."), ("user", "Hello")]
    assert ChatContext().messages == [] and ChatContext().messages is not ChatContext().messages


def test_text_joins_string_parts() -> None:
    message = ChatMessage(role="user", content=["one", ChatAudio(b"\x00\x00"), "two"])
    assert message.text == "one\ntwo"
    assert ChatMessage(role="user").text == ""


def test_copies_are_independent() -> None:
    ctx = ChatContext([ChatMessage(role="user", id="a", content=["x"])])
    copy = ctx.copy()
    copy.messages.append(ChatMessage.create(text="more"))
    assert isinstance(copy.messages[0].content, list)
    copy.messages[0].content.append("y")
    assert len(ctx.messages) == 1 and ctx.messages[0].content == ["x"]
    assert copy.messages[0].id == "a" and copy.messages[0].content == ["x", "y"]


def test_realtime_items_for_messages() -> None:
    pcm = b"\x01\x00\x02\x00"
    ctx = ChatContext(
        [
            ChatMessage(role="system", id="s1", content="Be brief."),
            ChatMessage(role="user", id="u1", content=["Hi", ChatAudio(pcm)]),
            ChatMessage(role="assistant", id="a1", content=["Hello!", ChatAudio(pcm)]),
            ChatMessage(role="assistant", id="a2", content=[ChatAudio(pcm)]),  # nothing left
            ChatMessage(role="user", content=""),  # empty text is left out
        ]
    )
    assert ctx.to_realtime_items() == [
        MessageItem(item_id="s1", role="system", content=(TextPart("Be brief."),)),
        MessageItem(item_id="u1", role="user", content=(TextPart("Hi"), AudioPart(pcm, 24000))),
        MessageItem(item_id="a1", role="assistant", content=(TextPart("Hello!"),)),
    ]
    ga = openai_items(ctx)
    assert ga == [
        {"id": "s1", "type": "message", "role": "system",
         "content": [{"type": "input_text", "text": "Be brief."}]},
        {"id": "u1", "type": "message", "role": "user",
         "content": [{"type": "input_text", "text": "Hi"},
                     {"type": "input_audio", "audio": base64.b64encode(pcm).decode()}]},
        {"id": "a1", "type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Hello!"}]},
    ]
    beta = openai_items(ctx, "beta")
    assert beta[2]["content"] == [{"type": "text", "text": "Hello!"}]
    assert beta[:2] == ga[:2]


def test_realtime_items_for_tool_calls_and_results() -> None:
    asyncio.run(_tool_round_trip())


async def _tool_round_trip() -> None:
    tools = Tools()
    ok = create_call_info(tools, "call_ok", "lookup", '{"order": 7}')
    bad = create_call_info(tools, "call_bad", "lookup", '{"order": -1}')
    calls = ChatMessage.create_tool_calls([ok, bad], text="Let me check.")
    assert (calls.role, calls.content) == ("assistant", "Let me check.")
    assert calls.tool_calls == [ok, bad]
    running = ok.execute()
    with pytest.raises(ValueError, match="running ai function"):
        ChatMessage.create_tool_from_called_function(running)
    failing = bad.execute()
    await asyncio.wait([running.task, failing.task])
    result = ChatMessage.create_tool_from_called_function(running)
    error = ChatMessage.create_tool_from_called_function(failing)
    assert (result.role, result.name, result.tool_call_id) == ("tool", "lookup", "call_ok")
    # Like livekit 0.x, the raw return value is kept as the content (it is JSON on replay).
    raw_result: object = result.content
    assert (raw_result, result.tool_exception) == ({"order": 7, "status": "shipped"}, None)
    assert error.content == "Error: no such order"
    assert isinstance(error.tool_exception, ValueError)

    ctx = ChatContext([calls, result, error])
    items = openai_items(ctx)
    assert items == [
        {"id": calls.id, "type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Let me check."}]},
        {"type": "function_call", "call_id": "call_ok", "name": "lookup",
         "arguments": '{"order": 7}'},
        {"type": "function_call", "call_id": "call_bad", "name": "lookup",
         "arguments": '{"order": -1}'},
        {"id": result.id, "type": "function_call_output", "call_id": "call_ok",
         "output": '{"order": 7, "status": "shipped"}'},
        {"id": error.id, "type": "function_call_output", "call_id": "call_bad",
         "output": "Error: no such order"},
    ]
    silent = ChatMessage.create_tool_calls([ok])  # no text: only the function_call item
    assert openai_items(ChatContext([silent])) == [items[1]]


def test_cancelled_tool_becomes_an_error_result() -> None:
    async def run() -> ChatMessage:
        called = create_call_info(Tools(), "c", "lookup", '{"order": 1}').execute()
        called.task.cancel()
        await asyncio.wait([called.task])
        return ChatMessage.create_tool_from_called_function(called)

    message = asyncio.run(run())
    assert message.content == "Error: the function was cancelled"
    assert isinstance(message.tool_exception, asyncio.CancelledError)
