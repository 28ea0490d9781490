"""Tools the model may call: declaring them, describing them, parsing and running calls.

Mirrors `livekit.agents.llm.function_context` (0.x): decorate methods of a
`FunctionContext` subclass with `ai_callable`, or free functions with
`fnc_ctx.ai_callable(...)`. Each parameter needs a type hint (see `tool_types` for the
supported ones); descriptions come from `Annotated[T, TypeInfo(...)]` or, failing that,
from the docstring (Google ``Args:`` or Sphinx ``:param x:``).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pipeline.agents.llm import tool_types
from pipeline.agents.llm.docstrings import parse_docstring

F = TypeVar("F", bound=Callable[..., Any])

_METADATA_ATTR = "__voxpipe_ai_callable__"


class _UseDocMarker:
    """Marker: take the description from the docstring."""


USE_DOCSTRING = _UseDocMarker()
"""The default `description` of `ai_callable`: use the function's docstring."""


@dataclass(frozen=True)
class TypeInfo:
    """Metadata for ``Annotated[T, TypeInfo(...)]`` parameters."""

    description: str = ""
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        # livekit accepts a list too; keep the stored value hashable.
        object.__setattr__(self, "choices", tuple(self.choices))


@dataclass(frozen=True)
class FunctionArgInfo:
    """One parameter of a tool."""

    name: str
    description: str
    type: Any  # the declared annotation without `Annotated`
    default: Any  # inspect.Parameter.empty when the argument is required
    choices: tuple[Any, ...]


@dataclass(frozen=True)
class FunctionInfo:
    """A registered tool."""

    name: str
    description: str
    auto_retry: bool
    callable: Callable[..., Any]
    arguments: dict[str, FunctionArgInfo]


@dataclass
class CalledFunction:
    """A running (or finished) tool call; `result`/`exception` are set when the task ends."""

    call_info: FunctionCallInfo
    task: asyncio.Task[Any]
    result: Any | None = None
    exception: BaseException | None = None


@dataclass(frozen=True)
class FunctionCallInfo:
    """A validated tool call from the model."""

    tool_call_id: str
    function_info: FunctionInfo
    raw_arguments: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def execute(self) -> CalledFunction:
        """Start the call as a task of the running loop (sync functions run in a thread)."""
        fnc = self.function_info.callable
        if inspect.iscoroutinefunction(fnc):
            task: asyncio.Task[Any] = asyncio.create_task(fnc(**self.arguments))
        else:
            # A slow sync tool must not stall the event loop that moves audio.
            task = asyncio.create_task(asyncio.to_thread(fnc, **self.arguments))
        called = CalledFunction(call_info=self, task=task)

        def record_outcome(done: asyncio.Task[Any]) -> None:
            if done.cancelled():
                called.exception = asyncio.CancelledError()
            elif done.exception() is not None:
                called.exception = done.exception()
            else:
                called.result = done.result()

        task.add_done_callback(record_outcome)
        return called


@dataclass(frozen=True)
class _AICallableMetadata:
    name: str | None
    description: str | _UseDocMarker | None
    auto_retry: bool


def ai_callable(
    *,
    name: str | None = None,
    description: str | _UseDocMarker | None = USE_DOCSTRING,
    auto_retry: bool = False,
) -> Callable[[F], F]:
    """Mark a `FunctionContext` method as a tool (registered when the context is created)."""

    def mark(fnc: F) -> F:
        setattr(fnc, _METADATA_ATTR, _AICallableMetadata(name, description, auto_retry))
        return fnc

    return mark


class FunctionContext:
    """The set of tools offered to the model."""

    def __init__(self) -> None:
        self._fncs: dict[str, FunctionInfo] = {}
        # Walk the class bodies base-first so tools keep their declaration order.
        names: dict[str, None] = {}
        for cls in reversed(type(self).__mro__):
            names.update(dict.fromkeys(vars(cls)))
        for attr in names:
            declared = inspect.getattr_static(type(self), attr)
            if isinstance(declared, staticmethod | classmethod):
                declared = declared.__func__
            metadata = getattr(declared, _METADATA_ATTR, None)
            if isinstance(metadata, _AICallableMetadata):
                self._register(getattr(self, attr), metadata)

    @property
    def ai_functions(self) -> dict[str, FunctionInfo]:
        """The registered tools by name, in registration order."""
        return self._fncs

    def ai_callable(
        self,
        *,
        name: str | None = None,
        description: str | _UseDocMarker | None = USE_DOCSTRING,
        auto_retry: bool = True,
    ) -> Callable[[F], F]:
        """Register a free function as a tool (livekit 0.x defaults `auto_retry` to True here)."""

        def register(fnc: F) -> F:
            self._register(fnc, _AICallableMetadata(name, description, auto_retry))
            return fnc

        return register

    def _register(self, fnc: Callable[..., Any], metadata: _AICallableMetadata) -> None:
        info = describe_function(fnc, metadata.name, metadata.description, metadata.auto_retry)
        if info.name in self._fncs:
            raise ValueError(f"duplicate ai_callable name {info.name!r}")
        self._fncs[info.name] = info


def describe_function(
    fnc: Callable[..., Any],
    name: str | None = None,
    description: str | _UseDocMarker | None = USE_DOCSTRING,
    auto_retry: bool = False,
) -> FunctionInfo:
    """Build the FunctionInfo of a callable; raises TypeError/ValueError on a bad declaration."""
    fnc_name = name or getattr(fnc, "__name__", "")
    if not fnc_name:
        raise ValueError(f"cannot name tool {fnc!r}; pass name=")
    doc = parse_docstring(inspect.getdoc(fnc))
    if description is None or isinstance(description, _UseDocMarker):
        if not doc.description:
            raise ValueError(
                f"ai function {fnc_name!r} has no docstring; add one or pass description="
            )
        description = doc.description
    target = inspect.unwrap(getattr(fnc, "__func__", fnc))
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except NameError as exc:
        raise TypeError(f"ai function {fnc_name!r}: cannot resolve type hints: {exc}") from exc
    arguments: dict[str, FunctionArgInfo] = {}
    for param in inspect.signature(fnc).parameters.values():
        where = f"ai function {fnc_name!r}, parameter {param.name!r}"
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            raise TypeError(f"{where}: *args, **kwargs and positional-only are not supported")
        if param.name not in hints:
            raise TypeError(f"{where}: missing type hint")
        try:
            annotation, metadata = tool_types.split_annotated(hints[param.name])
            type_info = next((m for m in metadata if isinstance(m, TypeInfo)), TypeInfo())
            shape = tool_types.arg_shape(annotation, type_info.choices)
        except tool_types.UnsupportedType as exc:
            raise TypeError(f"{where}: {exc}") from None
        arguments[param.name] = FunctionArgInfo(
            name=param.name,
            description=type_info.description or doc.params.get(param.name, ""),
            type=annotation,
            default=param.default,
            choices=shape.choices,
        )
    return FunctionInfo(fnc_name, description, auto_retry, fnc, arguments)


def build_tool_schema(info: FunctionInfo) -> dict[str, Any]:
    """The OpenAI Realtime tool entry (``session.tools[i]``) of a tool."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for arg in info.arguments.values():
        schema = tool_types.json_schema(_shape(arg))
        if arg.description:
            schema["description"] = arg.description
        properties[arg.name] = schema
        if arg.default is inspect.Parameter.empty:
            required.append(arg.name)
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return {
        "type": "function",
        "name": info.name,
        "description": info.description,
        "parameters": parameters,
    }


def build_tool_schemas(fnc_ctx: FunctionContext) -> list[dict[str, Any]]:
    """The tool entries of every tool of a context, in registration order."""
    return [build_tool_schema(info) for info in fnc_ctx.ai_functions.values()]


def create_call_info(
    fnc_ctx: FunctionContext, tool_call_id: str, name: str, raw_arguments: str
) -> FunctionCallInfo:
    """Parse and check a model's tool call; ValueError names the function and argument."""
    info = fnc_ctx.ai_functions.get(name)
    if info is None:
        known = ", ".join(fnc_ctx.ai_functions) or "none"
        raise ValueError(f"unknown ai function {name!r} (known: {known})")
    try:
        parsed = json.loads(raw_arguments) if raw_arguments.strip() else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"ai function {name!r}: arguments are not valid JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"ai function {name!r}: arguments must be a JSON object")
    unexpected = sorted(set(parsed) - set(info.arguments))
    if unexpected:
        raise ValueError(f"ai function {name!r}: unexpected argument(s) {unexpected}")
    arguments: dict[str, Any] = {}
    for arg in info.arguments.values():
        if arg.name not in parsed:
            if arg.default is inspect.Parameter.empty:
                raise ValueError(f"ai function {name!r}: missing required argument {arg.name!r}")
            continue
        try:
            arguments[arg.name] = tool_types.coerce(_shape(arg), parsed[arg.name])
        except ValueError as exc:
            raise ValueError(f"ai function {name!r}, argument {arg.name!r}: {exc}") from None
    return FunctionCallInfo(tool_call_id, info, raw_arguments, arguments)


_create_ai_function_info = create_call_info
"""livekit 0.x's name for `create_call_info`."""


def _shape(arg: FunctionArgInfo) -> tool_types.ArgShape:
    return tool_types.arg_shape(arg.type, arg.choices)
