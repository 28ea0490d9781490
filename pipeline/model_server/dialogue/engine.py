"""The dialogue engine: what the offline model answers, by rules, deterministically.

Order of decisions for one response:

1. The context ends with `function_call_output` items: speak an answer built
   from those outputs (a weather-shaped output -> "The weather in Paris is
   sunny and 21 degrees."; anything else -> "get_weather returned ...").
2. A declared tool matches the user's words under `tool_choice`
   (`tool_matcher`): call it.
3. Rules on the user's words: greeting, the assistant's name, how are you,
   thanks, goodbye, the time; otherwise "You said: <words>".

Instructions are read for these directives (case-insensitive; the response's
own `instructions` override the session's directive by directive):

- name: "Your name is Ava" / "You are called Ava" / "You are Ava" -> greetings
  and "what's your name" use it;
- exact text: `Say "…"` / `Respond with "…"` / `Reply with "…"` -> the answer
  is that text (tool calls still win);
- prefix: `Start every answer with "…"` / `Begin with "…"` -> prepended;
- "uppercase" / "capital letters" -> the answer in upper case;
- "be brief" / "concise" / "one sentence" -> only the answer's first sentence.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from pipeline.language.sentences import split_sentences

from ..protocol.conversation import Item
from ..protocol.reply_engine import FunctionCall, Reply, ReplyRequest
from .tool_matcher import match_tool

DEFAULT_NAME = "voxpipe"
NOT_HEARD = "Sorry, I didn't catch that."

_QUOTED = r"""["“]([^"”]+)["”]"""
_NAME = re.compile(
    r"(?:your name is|you are called|you are named|call yourself)\s+([A-Z][\w-]*)", re.I
)
_PERSONA = re.compile(r"\b[Yy]ou are ([A-Z][a-z][\w-]*)")  # "You are Ava, ..." (capitalised)
_EXACT = re.compile(r"\b(?:say|respond with|reply with|answer with)\s*(?:exactly)?:?\s*" + _QUOTED,
                    re.I)
_PREFIX = re.compile(r"\b(?:start|begin)\b[^\"“]*?\bwith\s*:?\s*" + _QUOTED, re.I)
_UPPER = re.compile(r"\b(?:upper ?case|capital letters|all caps)\b", re.I)
_BRIEF = re.compile(r"\b(?:be brief|brief(?:ly)?|concise|one sentence)\b", re.I)

_GREETINGS = ("hello", "hi", "hey", "good morning", "good afternoon", "good evening", "greetings")
_THANKS = ("thank you", "thanks", "cheers")
_GOODBYES = ("goodbye", "good bye", "bye", "see you", "good night")
_TEMPERATURE_KEYS = ("temperature", "temp", "degrees")
_CONDITION_KEYS = ("conditions", "condition", "weather", "description", "summary", "forecast")
_PLACE_KEYS = ("location", "city", "place")


@dataclass(frozen=True)
class Directives:
    """What instructions ask of the answers (see the module docstring)."""

    name: str | None = None
    exact: str | None = None
    prefix: str | None = None
    uppercase: bool = False
    brief: bool = False


def parse_directives(instructions: str) -> Directives:
    """The directives written in `instructions`."""
    name = _NAME.search(instructions) or _PERSONA.search(instructions)
    prefix = _PREFIX.search(instructions)
    exact = _EXACT.search(_PREFIX.sub("", instructions))  # "start every answer with" is no exact
    return Directives(
        name=name.group(1) if name else None,
        exact=exact.group(1).strip() if exact else None,
        prefix=prefix.group(1).strip() if prefix else None,
        uppercase=_UPPER.search(instructions) is not None,
        brief=_BRIEF.search(instructions) is not None,
    )


def merged_directives(session: str, response: str | None) -> Directives:
    """Session directives with the response's own directives laid over them."""
    base = parse_directives(session)
    if response is None:
        return base
    over = parse_directives(response)
    changes = {f.name: getattr(over, f.name) for f in dataclasses.fields(over)
               if getattr(over, f.name) not in (None, False)}
    return dataclasses.replace(base, **changes)


class DialogueReplyEngine:
    """Rules and tool calls over the user's transcript (see the module docstring)."""

    @property
    def needs_transcript(self) -> bool:
        """The rules read the user's words."""
        return True

    async def reply(self, request: ReplyRequest) -> Reply:
        """Answer `request`; awaits the user's transcript if it is still decoding."""
        directives = merged_directives(request.session_instructions,
                                       request.response_instructions)
        outputs = _trailing_outputs(request.context)
        if outputs:
            return Reply(text=styled(answer_from_outputs(outputs, request.context), directives))
        words = await request.turn.words() if request.turn is not None else ""
        match = match_tool(words, request.tools, request.tool_choice) if words or (
            request.tool_choice not in ("auto", "none")) else None
        if match is not None:
            arguments = json.dumps(match.arguments, separators=(", ", ": "))
            return Reply(text="", function_call=FunctionCall(match.name, arguments))
        if directives.exact is not None:
            return Reply(text=styled(directives.exact, directives))
        heard = request.turn is not None
        return Reply(text=styled(answer_words(words, directives.name, heard), directives))


def styled(text: str, directives: Directives) -> str:
    """`text` as the directives shape it (brief, prefix, case)."""
    if directives.brief:
        sentences = split_sentences(text)
        text = sentences[0] if sentences else text
    if directives.prefix:
        text = f"{directives.prefix} {text}"
    return text.upper() if directives.uppercase else text


def _has(phrase: str, words: str) -> bool:
    return re.search(rf"\b{re.escape(phrase)}\b", words) is not None


def answer_words(words: str, name: str | None, heard: bool = True) -> str:
    """The rule-based answer to the user's `words`."""
    plain = " ".join(re.findall(r"[a-z0-9']+", words.lower()))
    me = name or DEFAULT_NAME
    if not plain:
        return NOT_HEARD if heard else f"Hello! I'm {me}. How can I help you?"
    if re.search(r"\b(?:your name|who are you|what are you called)\b", plain):
        return f"My name is {me}."
    if any(_has(g, plain) for g in _THANKS):
        return "You're welcome!"
    if any(_has(g, plain) for g in _GOODBYES):
        return "Goodbye! Talk to you soon."
    if re.search(r"\b(?:what time|the time|time is it)\b", plain):
        return f"It is {time.strftime('%I:%M %p').lstrip('0')}."
    if re.search(r"\bhow are you\b", plain):
        return "I'm doing well, thank you. How can I help you?"
    if any(plain == g or plain.startswith(g + " ") for g in _GREETINGS):
        return f"Hello! I'm {me}. How can I help you?"
    said = words.strip()
    if said[-1:] not in (".", "!", "?"):
        said += "."
    return f"You said: {said}"


def _trailing_outputs(context: tuple[Item, ...]) -> list[Item]:
    outputs: list[Item] = []
    for item in reversed(context):
        if item.type != "function_call_output":
            break
        outputs.append(item)
    return outputs[::-1]


def answer_from_outputs(outputs: list[Item], context: tuple[Item, ...]) -> str:
    """A spoken answer built from function outputs and the calls they answer."""
    calls = {i.call_id: i for i in context if i.type == "function_call"}
    answers = []
    for output in outputs:
        call = calls.get(output.call_id)
        answers.append(_answer_one(call, output.output or ""))
    return " ".join(answers)


def _answer_one(call: Item | None, raw: str) -> str:
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    args: dict[str, Any] = {}
    if call is not None:
        try:
            loaded = json.loads(call.arguments or "{}")
            args = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            pass
    if isinstance(value, dict):
        weather = _weather_sentence(value, args)
        if weather is not None:
            return weather
    name = call.name if call is not None and call.name else "The tool"
    return f"{name} returned {render(value)}."


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((obj[k] for k in keys if obj.get(k) not in (None, "")), None)


def _weather_sentence(value: dict[str, Any], args: dict[str, Any]) -> str | None:
    temperature = _first(value, _TEMPERATURE_KEYS)
    conditions = _first(value, _CONDITION_KEYS)
    if temperature is None and conditions is None:
        return None
    place = _first(value, _PLACE_KEYS) or _first(args, _PLACE_KEYS)
    where = f" in {place}" if place else ""
    unit = value.get("unit") or args.get("unit")
    degrees = f"{render(temperature)} degrees" + (f" {unit}" if isinstance(unit, str) else "")
    if temperature is None:
        return f"The weather{where} is {render(conditions)}."
    if conditions is None:
        return f"The temperature{where} is {degrees}."
    return f"The weather{where} is {render(conditions)} and {degrees}."


def render(value: Any) -> str:
    """A JSON value as words: "temperature 21 and conditions sunny"."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        parts = [f"{str(k).replace('_', ' ')} {render(v)}" for k, v in value.items()]
        return _and(parts) if parts else "nothing"
    if isinstance(value, list):
        return _and([render(v) for v in value]) if value else "nothing"
    if value is None:
        return "nothing"
    return str(value).strip()


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
