"""Which declared tool the user's words ask for, and with what arguments.

Deterministic keyword matching over the tools' JSON schemas, no model:

- A tool scores 3 per word of its name heard in the turn (generic verbs such
  as "get" or "set" left out), 2 per enum value heard, 1 per word of its
  description or a parameter name. Under `tool_choice` "auto" a tool is
  called when its score reaches `MIN_AUTO_SCORE`; "required" calls the best
  tool whatever its score; a named choice calls that tool.
- Arguments come from the schema's `properties`: enum values heard in the
  turn; numbers, in digits or words ("five" -> 5, "twenty five" -> 25),
  converted between seconds, minutes and hours when the property names a unit
  ("five minutes" for `duration_seconds` -> 300); booleans from on/off words;
  place-like strings (name or description mentions a city or location) from
  the words after "in", "at", "for", ...; any other required string from a
  quoted phrase or the words after the tool's keyword. Properties not heard
  are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _indexed(words: str, scale: int = 1, offset: int = 0) -> dict[str, int]:
    return {w: scale * (i + offset) for i, w in enumerate(words.split())}


MIN_AUTO_SCORE = 3
_NAME_WEIGHT, _ENUM_WEIGHT, _WORD_WEIGHT = 3, 2, 1

_GENERIC = _set(
    "get set do make fetch create update list run find show check call use send add the a an "
    "my of for to current"
)
_STOPWORDS = _set(
    "a an the of for to in on at by with and or is are be it its this that what what's whats "
    "how me my you your i we please can could would will do does get given from as"
)
_PLACE_WORDS = _set("location city place destination address country town where")
_PLACE_PREPOSITIONS = ("in", "at", "for", "near", "to", "from")
_PLACE_STOP = _set("today tomorrow tonight now right please this next weekend currently like be is")
_PHRASE_MARKERS = ("called", "named", "titled", "saying", "about", "for", "to")
_ON_WORDS = _set("on yes enable true start")
_OFF_WORDS = _set("off no disable false stop")
_SMALL = _indexed(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS = _indexed("twenty thirty forty fifty sixty seventy eighty ninety", 10, 2)
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600}
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'.]*[A-Za-z0-9]|[A-Za-z0-9]")


@dataclass(frozen=True)
class ToolMatch:
    """A tool to call and the arguments read from the user's words."""

    name: str
    arguments: dict[str, Any]
    score: int


@dataclass(frozen=True)
class _Number:
    value: float
    start: int
    end: int
    """Token index one past the number's last word."""


def tokens_of(text: str) -> list[str]:
    """The words of `text`, in order, as written (punctuation dropped)."""
    return [t.rstrip(".") for t in _WORD.findall(text)]


def _norm(word: str) -> str:
    w = word.lower().removesuffix("'s")
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    return w


def _split_name(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ")
    return [_norm(w) for w in spaced.split()]


def _properties(tool: dict[str, Any]) -> dict[str, dict[str, Any]]:
    params = tool.get("parameters")
    props = params.get("properties") if isinstance(params, dict) else None
    if not isinstance(props, dict):
        return {}
    return {str(k): v for k, v in props.items() if isinstance(v, dict)}


def tool_hints(tools: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> list[str]:
    """Words worth biasing recognition towards: tool names, parameter names, enum values."""
    hints: list[str] = []
    for tool in tools:
        hints += [w for w in _split_name(str(tool.get("name", ""))) if w not in _GENERIC]
        for prop, schema in _properties(tool).items():
            hints += [w for w in _split_name(prop) if w not in _GENERIC]
            hints += [str(v) for v in schema.get("enum", []) if isinstance(v, str)]
    return list(dict.fromkeys(h for h in hints if h))


def _score(tool: dict[str, Any], heard: set[str]) -> int:
    name_words = {w for w in _split_name(str(tool.get("name", ""))) if w not in _GENERIC}
    score = _NAME_WEIGHT * len(name_words & heard)
    desc = {_norm(w) for w in tokens_of(str(tool.get("description") or ""))} - _STOPWORDS
    score += _WORD_WEIGHT * len((desc - name_words) & heard)
    for prop, schema in _properties(tool).items():
        score += _WORD_WEIGHT * len(set(_split_name(prop)) & heard - _GENERIC)
        for value in schema.get("enum", []):
            if isinstance(value, str) and set(_split_name(value)) <= heard:
                score += _ENUM_WEIGHT
    return score


def match_tool(
    text: str, tools: list[dict[str, Any]] | tuple[dict[str, Any], ...],
    tool_choice: str | dict[str, Any] = "auto",
) -> ToolMatch | None:
    """The tool call `text` asks for under `tool_choice`, or None (answer in words)."""
    if not tools or tool_choice == "none":
        return None
    words = tokens_of(text)
    heard = {_norm(w) for w in words}
    if isinstance(tool_choice, dict):
        forced = [t for t in tools if t.get("name") == tool_choice.get("name")]
        if not forced:
            return None
        return ToolMatch(str(forced[0]["name"]), extract_arguments(words, forced[0]),
                         _score(forced[0], heard))
    scored = [(_score(t, heard), i) for i, t in enumerate(tools)]
    best_score, best = max(scored, key=lambda s: (s[0], -s[1]))
    if tool_choice != "required" and best_score < MIN_AUTO_SCORE:
        return None
    tool = tools[best]
    return ToolMatch(str(tool["name"]), extract_arguments(words, tool), best_score)


def parse_numbers(words: list[str]) -> list[_Number]:
    """Numbers in `words`, digits ("21", "2.5") or English words ("twenty one")."""
    found: list[_Number] = []
    i = 0
    while i < len(words):
        w = words[i].lower().replace(",", "")
        try:
            found.append(_Number(float(w), i, i + 1))
            i += 1
            continue
        except ValueError:
            pass
        total, current, j = 0, 0, i
        while j < len(words):
            t = words[j].lower()
            if t in _SMALL:
                current += _SMALL[t]
            elif t in _TENS:
                current += _TENS[t]
            elif t in _SCALES and (current or j > i):
                scale = _SCALES[t]
                if scale == 100:
                    current = max(current, 1) * 100
                else:
                    total += max(current, 1) * scale
                    current = 0
            elif t == "and" and j > i and j + 1 < len(words) and (
                    words[j + 1].lower() in _SMALL or words[j + 1].lower() in _TENS):
                pass
            else:
                break
            j += 1
        if j > i:
            found.append(_Number(float(total + current), i, j))
            i = j
        else:
            i += 1
    return found


def _unit_of(words: list[str]) -> int | None:
    for w in words:
        seconds = _UNIT_SECONDS.get(_norm(w))
        if seconds is not None:
            return seconds
    return None


def _schema_type(schema: dict[str, Any]) -> str:
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    return str(t) if t else "string"


def _prop_words(prop: str, schema: dict[str, Any]) -> set[str]:
    return set(_split_name(prop)) | {_norm(w) for w in tokens_of(str(schema.get("description")
                                                                      or ""))}


def extract_arguments(words: list[str], tool: dict[str, Any]) -> dict[str, Any]:
    """Arguments for `tool` read from the turn's `words` (see the module docstring)."""
    props = _properties(tool)
    params = tool.get("parameters")
    required = set(params.get("required", [])) if isinstance(params, dict) else set()
    numbers = parse_numbers(words)
    used: set[int] = set()
    keywords = {w for w in _split_name(str(tool.get("name", ""))) if w not in _GENERIC}
    enum_words = {w for s in props.values() for v in s.get("enum", []) if isinstance(v, str)
                  for w in _split_name(v)}
    args: dict[str, Any] = {}
    for prop, schema in props.items():
        kind = _schema_type(schema)
        value: Any = None
        if "enum" in schema:
            value = _enum_value(words, schema["enum"], numbers)
        elif kind in ("integer", "number"):
            value = _number_value(words, numbers, used, _prop_words(prop, schema))
            if value is not None and kind == "integer":
                value = round(value)
        elif kind == "boolean":
            heard = {w.lower() for w in words}
            value = True if heard & _ON_WORDS else False if heard & _OFF_WORDS else None
        elif kind == "string":
            if _prop_words(prop, schema) & _PLACE_WORDS:
                value = _place(words, enum_words)
            elif prop in required:
                value = _phrase(words, keywords)
        if value is not None:
            args[prop] = value
    return args


def _enum_value(words: list[str], enum: list[Any], numbers: list[_Number]) -> Any:
    heard = [_norm(w) for w in words]
    for value in enum:
        if isinstance(value, str):
            target = _split_name(value)
            n = len(target)
            if n and any(heard[i : i + n] == target for i in range(len(heard) - n + 1)):
                return value
        elif isinstance(value, int | float) and any(x.value == value for x in numbers):
            return value
    return None


def _number_value(
    words: list[str], numbers: list[_Number], used: set[int], prop_words: set[str]
) -> float | None:
    free = [(k, n) for k, n in enumerate(numbers) if k not in used]
    if not free:
        return None
    # Prefer the number followed by a word of the property ("5 minutes" for `minutes`).
    k, number = next(
        ((k, n) for k, n in free if {_norm(w) for w in words[n.end : n.end + 1]} & prop_words),
        free[0],
    )
    used.add(k)
    value = number.value
    spoken_unit = _unit_of(words[number.end : number.end + 1])
    wanted_unit = _unit_of(sorted(prop_words))
    if spoken_unit is not None and wanted_unit is not None:
        value = value * spoken_unit / wanted_unit
    return value


def _place(words: list[str], enum_words: set[str]) -> str | None:
    lowered = [w.lower() for w in words]
    for i in range(len(words) - 1, -1, -1):
        if lowered[i] not in _PLACE_PREPOSITIONS:
            continue
        j = i + 1
        while j < len(words) and lowered[j] not in _PLACE_STOP and lowered[j] not in (
                "the", "a") and _norm(words[j]) not in enum_words:
            j += 1
        place = words[i + 1 : j]
        if place and not any(w.isdigit() for w in place) and not parse_numbers(place):
            return " ".join(w if w[:1].isupper() else w.capitalize() for w in place)
    return None


def _phrase(words: list[str], keywords: set[str]) -> str | None:
    lowered = [_norm(w) for w in words]
    for marker in _PHRASE_MARKERS:
        if marker in lowered:
            rest = words[lowered.index(marker) + 1 :]
            if rest:
                return " ".join(rest)
    after = [i for i, w in enumerate(lowered) if w in keywords]
    if after and after[-1] + 1 < len(words):
        return " ".join(words[after[-1] + 1 :])
    return " ".join(words) or None
