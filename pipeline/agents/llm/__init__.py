"""Chat and function contexts for realtime models (livekit-agents 0.x `llm` names)."""

from pipeline.agents.llm.chat_context import (
    ChatAudio,
    ChatContent,
    ChatContext,
    ChatMessage,
    ChatRole,
    new_item_id,
)
from pipeline.agents.llm.function_context import (
    USE_DOCSTRING,
    CalledFunction,
    FunctionArgInfo,
    FunctionCallInfo,
    FunctionContext,
    FunctionInfo,
    TypeInfo,
    _create_ai_function_info,
    ai_callable,
    build_tool_schema,
    build_tool_schemas,
    create_call_info,
    describe_function,
)

__all__ = [
    "USE_DOCSTRING",
    "CalledFunction",
    "ChatAudio",
    "ChatContent",
    "ChatContext",
    "ChatMessage",
    "ChatRole",
    "FunctionArgInfo",
    "FunctionCallInfo",
    "FunctionContext",
    "FunctionInfo",
    "TypeInfo",
    "_create_ai_function_info",
    "ai_callable",
    "build_tool_schema",
    "build_tool_schemas",
    "create_call_info",
    "describe_function",
    "new_item_id",
]
