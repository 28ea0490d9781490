"""Tool calls of one session: collect them per response, run them in the supervisor
under a timeout, answer the model, ask for the follow-up response.

Every failure becomes an answer the model can use (``{"error": ...}``) and an
event for the user (``function_calls_finished`` with the exception set); the
conversation always goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any, Literal, Protocol

import msgspec

from ipc.schema import ModelCommand, SessionSettings, ToolResult, ToolSpec
from pipeline.agents.llm import (
    CalledFunction,
    ChatMessage,
    FunctionCallInfo,
    build_tool_schema,
    create_call_info,
)

if TYPE_CHECKING:
    from pipeline.agents.llm import ChatContext, FunctionContext

log = logging.getLogger("voxpipe.agent")


class ToolCallSession(Protocol):
    """What the runner needs of its session (``RealtimeSession``, which owns the runner:
    a protocol, so this module does not import the session back)."""

    _chat_ctx: ChatContext

    @property
    def fnc_ctx(self) -> FunctionContext | None: ...

    def emit(self, event: Literal["function_calls_collected", "function_calls_finished"],
             *args: Any) -> None: ...

    def send(self, events: list[Any]) -> None: ...

    def _request_response(self) -> None: ...


class ToolError(Exception):
    """A tool call that could not produce an answer (bad arguments, timeout, bad result)."""


class FunctionCallRunner:
    def __init__(self, session: ToolCallSession, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError(f"tool_timeout_s must be > 0, got {timeout_s!r}")
        self._session = session
        self.timeout_s = timeout_s
        self.pending: list[tuple[str, str, str, str]] = []  # call_id, name, arguments, item
        self._tasks: set[asyncio.Task[None]] = set()

    def collect(self, call_id: str, name: str, arguments: str, item_id: str) -> None:
        self.pending.append((call_id, name, arguments, item_id))

    def run_collected(self) -> None:
        calls, self.pending = self.pending, []
        task = asyncio.create_task(self._run(calls))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _run(self, calls: list[tuple[str, str, str, str]]) -> None:
        session = self._session
        infos: list[FunctionCallInfo] = []
        failures: list[CalledFunction] = []
        for call_id, name, arguments, item_id in calls:
            fnc_ctx = session.fnc_ctx
            try:
                if fnc_ctx is None:
                    raise ToolError(f"no function context: cannot call {name!r}")
                info = create_call_info(fnc_ctx, call_id, name, arguments)
            except (ToolError, ValueError) as exc:
                failures.append(_failed_call(call_id, name, arguments, exc))
                continue
            infos.append(info)
            session._chat_ctx.messages.append(
                ChatMessage(role="assistant", id=item_id, tool_calls=[info]))
        session.emit("function_calls_collected", infos)
        called = [await self._execute(info) for info in infos]
        called += failures
        results: list[ModelCommand] = []
        for fn in called:
            session._chat_ctx.messages.append(ChatMessage.create_tool_from_called_function(fn))
            results.append(ToolResult(call_id=fn.call_info.tool_call_id, output=_output(fn)))
        session.send(results)
        session._request_response()
        session.emit("function_calls_finished", called)

    async def _execute(self, info: FunctionCallInfo) -> CalledFunction:
        called = info.execute()
        try:
            called.result = await asyncio.wait_for(called.task, self.timeout_s)
            json.dumps(called.result)  # the model gets JSON; fail here, not on the wire
        except TimeoutError:
            called.exception = ToolError(
                f"{info.function_info.name} did not finish within {self.timeout_s:g} s")
        except TypeError as exc:
            called.exception = ToolError(
                f"{info.function_info.name} returned a value that is not JSON: {exc}")
            called.result = None
        except Exception as exc:
            called.exception = exc
        if called.exception is not None:
            log.warning("tool %s failed: %s", info.function_info.name, called.exception)
        return called


def _output(fn: CalledFunction) -> str:
    if fn.exception is not None:
        return json.dumps({"error": f"{type(fn.exception).__name__}: {fn.exception}"})
    result: Any = fn.result
    return result if isinstance(result, str) else json.dumps(result)


def _failed_call(call_id: str, name: str, arguments: str, exc: Exception) -> CalledFunction:
    """A call that never ran (unknown tool, bad arguments) as a finished, failed one."""
    from pipeline.agents.llm import FunctionInfo

    info = FunctionCallInfo(tool_call_id=call_id,
                            function_info=FunctionInfo(name=name, description="",
                                                       auto_retry=False,
                                                       callable=_never_called, arguments={}),
                            raw_arguments=arguments, arguments={})
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return CalledFunction(call_info=info, task=done, result=None,  # type: ignore[arg-type]
                          exception=exc)


def _never_called(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("a failed call is never executed")


def settings_with_tools(base: SessionSettings, fnc_ctx: FunctionContext | None) -> SessionSettings:
    """``base`` with the tools of ``fnc_ctx`` (none: no tools, ``tool_choice`` "auto")."""
    tools: tuple[ToolSpec, ...] = ()
    if fnc_ctx is not None:
        schemas = (build_tool_schema(i) for i in fnc_ctx.ai_functions.values())
        tools = tuple(ToolSpec(name=t["name"], description=t["description"],
                               parameters=t["parameters"]) for t in schemas)
    return msgspec.structs.replace(
        base, tools=tools, tool_choice=base.tool_choice if tools else "auto")
