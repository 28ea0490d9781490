"""Tool declarations: schema from type hints and docstrings, call parsing, execution."""

from __future__ import annotations

import asyncio
import enum
import inspect
import time
from typing import Annotated, Literal

import pytest

from pipeline.agents import llm
from pipeline.agents.llm import TypeInfo, ai_callable, build_tool_schema, create_call_info


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mixed(enum.Enum):
    A = "a"
    B = 2


class Assistant(llm.FunctionContext):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    @ai_callable()
    async def get_weather(
        self,
        location: Annotated[str, TypeInfo(description="The city, e.g. Paris")],
        unit: Unit = Unit.CELSIUS,
        days: int = 1,
    ) -> str:
        """Get the weather forecast for a location.

        Args:
            location: ignored, the TypeInfo description wins.
            unit: The temperature unit.
            days: How many days
                to forecast.
        """
        self.calls.append(f"weather {location} {unit.value} {days}")
        return f"sunny in {location}"

    @ai_callable(name="book", description="Book a table.", auto_retry=True)
    def book_table(
        self,
        guests: int,
        time: Literal["lunch", "dinner"],
        priority: Priority | None = None,
        notes: list[str] | None = None,
        vip: bool = False,
        budget: float = 0.0,
    ) -> dict[str, object]:
        """:param guests: How many people.
        :param time: Which service.
        """
        self.calls.append(f"book {guests} {time} {priority} {notes} {vip} {budget}")
        return {"ok": True, "guests": guests}

    @ai_callable()
    async def fail(self) -> None:
        """Always raises."""
        raise RuntimeError("kitchen closed")

    def not_a_tool(self) -> None:
        """Plain method."""


def test_methods_register_in_declaration_order() -> None:
    ctx = Assistant()
    assert list(ctx.ai_functions) == ["get_weather", "book", "fail"]
    info = ctx.ai_functions["book"]
    assert (info.name, info.description, info.auto_retry) == ("book", "Book a table.", True)
    assert info.callable == ctx.book_table
    assert info.arguments["guests"] == llm.FunctionArgInfo(
        name="guests", description="How many people.", type=int,
        default=inspect.Parameter.empty, choices=(),
    )
    assert info.arguments["time"].choices == ("lunch", "dinner")
    assert info.arguments["priority"].choices == (1, 2)
    assert info.arguments["notes"].default is None


def test_schema_from_hints_and_docstrings() -> None:
    ctx = Assistant()
    assert build_tool_schema(ctx.ai_functions["get_weather"]) == {
        "type": "function",
        "name": "get_weather",
        "description": "Get the weather forecast for a location.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city, e.g. Paris"},
                "unit": {
                    "type": "string",
                    "enum": ["celsius", "fahrenheit"],
                    "description": "The temperature unit.",
                },
                "days": {"type": "integer", "description": "How many days to forecast."},
            },
            "required": ["location"],
        },
    }
    assert build_tool_schema(ctx.ai_functions["book"])["parameters"] == {
        "type": "object",
        "properties": {
            "guests": {"type": "integer", "description": "How many people."},
            "time": {
                "type": "string", "enum": ["lunch", "dinner"], "description": "Which service.",
            },
            "priority": {"type": ["integer", "null"], "enum": [1, 2, None]},
            "notes": {"type": ["array", "null"], "items": {"type": "string"}},
            "vip": {"type": "boolean"},
            "budget": {"type": "number"},
        },
        "required": ["guests", "time"],
    }
    assert build_tool_schema(ctx.ai_functions["fail"])["parameters"] == {
        "type": "object", "properties": {},
    }
    assert [t["name"] for t in llm.build_tool_schemas(ctx)] == ["get_weather", "book", "fail"]


def test_free_functions_register_through_the_context() -> None:
    ctx = llm.FunctionContext()

    @ctx.ai_callable()
    def lookup(
        ids: Annotated[list[int], TypeInfo(description="Order ids", choices=[1, 2, 3])],
    ) -> str:
        """Look orders up."""
        return "found"

    info = ctx.ai_functions["lookup"]
    assert info.auto_retry is True  # livekit 0.x's default for FunctionContext.ai_callable
    assert lookup([1]) == "found"  # the decorator returns the function
    assert build_tool_schema(info)["parameters"]["properties"]["ids"] == {
        "type": "array", "items": {"type": "integer", "enum": [1, 2, 3]},
        "description": "Order ids",
    }


def test_create_call_info_converts_arguments() -> None:
    ctx = Assistant()
    raw = '{"location": "Oslo", "unit": "fahrenheit"}'
    call = create_call_info(ctx, "call_1", "get_weather", raw)
    assert call.tool_call_id == "call_1"
    assert call.raw_arguments == raw
    assert call.arguments == {"location": "Oslo", "unit": Unit.FAHRENHEIT}
    call = create_call_info(
        ctx, "c2", "book",
        '{"guests": 4.0, "time": "dinner", "priority": 2, "notes": ["window"], "budget": 30}',
    )
    assert call.arguments == {
        "guests": 4, "time": "dinner", "priority": Priority.HIGH, "notes": ["window"],
        "budget": 30.0,
    }
    assert type(call.arguments["guests"]) is int and type(call.arguments["budget"]) is float
    assert create_call_info(ctx, "c3", "fail", "").arguments == {}
    call = create_call_info(ctx, "c4", "book", '{"guests": 1, "time": "lunch", "notes": null}')
    assert call.arguments == {"guests": 1, "time": "lunch", "notes": None}


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("nope", "{}", "unknown ai function 'nope' (known: get_weather, book, fail)"),
        ("book", "{bad", "ai function 'book': arguments are not valid JSON"),
        ("book", "[1]", "ai function 'book': arguments must be a JSON object"),
        ("book", '{"time": "lunch"}', "ai function 'book': missing required argument 'guests'"),
        (
            "book", '{"guests": 2.5, "time": "lunch"}',
            "ai function 'book', argument 'guests': expected integer, got number 2.5",
        ),
        (
            "book", '{"guests": true, "time": "lunch"}',
            "ai function 'book', argument 'guests': expected integer, got boolean True",
        ),
        (
            "book", '{"guests": 2, "time": "brunch"}',
            "ai function 'book', argument 'time': expected one of ['lunch', 'dinner'], "
            "got 'brunch'",
        ),
        (
            "book", '{"guests": 2, "time": "lunch", "notes": ["a", 3]}',
            "ai function 'book', argument 'notes': item 1: expected array of string or null, "
            "got integer 3",
        ),
        (
            "book", '{"guests": 2, "time": "lunch", "vip": "yes"}',
            "ai function 'book', argument 'vip': expected boolean, got string 'yes'",
        ),
        (
            "book", '{"guests": 2, "time": null}',
            "ai function 'book', argument 'time': expected one of ['lunch', 'dinner'], got null",
        ),
        (
            "book", '{"guests": 2, "time": "lunch", "table": 5}',
            "ai function 'book': unexpected argument(s) ['table']",
        ),
        (
            "get_weather", '{"location": "x", "unit": "kelvin"}',
            "ai function 'get_weather', argument 'unit': expected one of "
            "['celsius', 'fahrenheit'], got 'kelvin'",
        ),
    ],
)
def test_create_call_info_rejects_bad_calls(name: str, raw: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        create_call_info(Assistant(), "call", name, raw)
    assert str(info.value).startswith(message)


def test_bad_declarations_name_the_function_and_argument() -> None:
    ctx = llm.FunctionContext()
    with pytest.raises(TypeError, match="ai function 'f', parameter 'x': missing type hint"):
        ctx.ai_callable()(_untyped)
    with pytest.raises(TypeError, match=r"ai function 'g', parameter 'x': unsupported type dict"):

        @ctx.ai_callable()
        def g(x: dict) -> None:  # type: ignore[type-arg]
            """Doc."""

    with pytest.raises(TypeError, match=r"parameter 'x': unsupported union"):

        @ctx.ai_callable()
        def h(x: int | str) -> None:
            """Doc."""

    with pytest.raises(TypeError, match=r"parameter 'args': \*args"):

        @ctx.ai_callable()
        def k(*args: int) -> None:
            """Doc."""

    with pytest.raises(ValueError, match="ai function 'nodoc' has no docstring"):

        @ctx.ai_callable()
        def nodoc() -> None:
            pass

    @ctx.ai_callable(name="dup", description="First.")
    def one() -> None: ...

    with pytest.raises(ValueError, match="duplicate ai_callable name 'dup'"):

        @ctx.ai_callable(name="dup", description="Second.")
        def two() -> None: ...

    with pytest.raises(TypeError, match="enum Mixed must have values that are all str or all int"):

        @ctx.ai_callable()
        def m(x: Mixed) -> None:
            """Doc."""


def _untyped(x) -> None:  # type: ignore[no-untyped-def]
    """Doc."""


_untyped.__name__ = "f"


def test_overriding_without_the_decorator_removes_the_tool() -> None:
    class Quiet(Assistant):
        async def fail(self) -> None:
            return None

    assert list(Quiet().ai_functions) == ["get_weather", "book"]


def test_execute_runs_async_and_sync_tools() -> None:
    asyncio.run(_execute_runs_async_and_sync_tools())


async def _execute_runs_async_and_sync_tools() -> None:
    ctx = Assistant()
    weather = create_call_info(ctx, "c1", "get_weather", '{"location": "Oslo"}').execute()
    booking = create_call_info(ctx, "c2", "book", '{"guests": 2, "time": "lunch"}').execute()
    failing = create_call_info(ctx, "c3", "fail", "").execute()
    await asyncio.wait([weather.task, booking.task, failing.task])
    await asyncio.sleep(0)  # done callbacks run on the next loop iteration
    assert (weather.result, weather.exception) == ("sunny in Oslo", None)
    assert booking.result == {"ok": True, "guests": 2}
    assert failing.result is None
    assert isinstance(failing.exception, RuntimeError)
    assert str(failing.exception) == "kitchen closed"
    assert sorted(ctx.calls) == ["book 2 lunch None None False 0.0", "weather Oslo celsius 1"]


def test_sync_tools_do_not_block_the_loop() -> None:
    asyncio.run(_sync_tools_do_not_block_the_loop())


async def _sync_tools_do_not_block_the_loop() -> None:
    ctx = llm.FunctionContext()

    @ctx.ai_callable(description="Slow.")
    def slow() -> str:
        time.sleep(0.2)
        return "done"

    called = create_call_info(ctx, "c", "slow", "").execute()
    ticks = 0
    while not called.task.done():
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks >= 10
    assert await called.task == "done"


def test_optional_annotated_parameters() -> None:
    ctx = llm.FunctionContext()

    @ctx.ai_callable(description="Find.")
    def find(
        a: Annotated[int, TypeInfo("Outer optional")] | None = None,
        b: Annotated[str | None, TypeInfo("Inner optional", choices=["x", "y"])] = None,
    ) -> None: ...

    assert ctx.ai_functions["find"].arguments["b"].choices == ("x", "y")
    assert build_tool_schema(ctx.ai_functions["find"])["parameters"] == {
        "type": "object",
        "properties": {
            "a": {"type": ["integer", "null"], "description": "Outer optional"},
            "b": {"type": ["string", "null"], "enum": ["x", "y", None],
                  "description": "Inner optional"},
        },
    }
    assert create_call_info(ctx, "c", "find", '{"a": 3, "b": null}').arguments == {
        "a": 3, "b": None,
    }
