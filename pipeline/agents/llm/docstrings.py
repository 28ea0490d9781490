"""Tool descriptions from docstrings: the summary and per-parameter descriptions.

Understands Google style (an ``Args:`` section with ``name: text`` or ``name (type): text``
entries, continuation lines indented deeper) and Sphinx style (``:param name: text`` or
``:param type name: text``). Everything before the first section is the description.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

_GOOGLE_ARGS = re.compile(r"^(Args|Arguments|Parameters|Params)\s*:\s*$")
_GOOGLE_OTHER = re.compile(
    r"^(Returns?|Yields?|Raises|Examples?|Notes?|Warnings?|See Also|Attributes)\s*:\s*$"
)
_GOOGLE_ENTRY = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_FIELD = re.compile(r"^:(\w+)(?:\s+([^:]*?))?\s*:\s*(.*)$")


@dataclass
class Docstring:
    """What a tool declaration's docstring says."""

    description: str = ""
    params: dict[str, str] = field(default_factory=dict)


def parse_docstring(doc: str | None) -> Docstring:
    """Split a docstring into its description and its parameter descriptions."""
    if not doc:
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    params: dict[str, list[str]] = {}
    current: list[str] | None = None  # the entry continuation lines go to
    section = "description"
    section_indent = 0
    entry_indent: int | None = None  # indent of the entries of the current Args section
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        sphinx = _SPHINX_FIELD.match(stripped)
        if _GOOGLE_ARGS.match(stripped):
            section, section_indent, current, entry_indent = "args", indent, None, None
        elif _GOOGLE_OTHER.match(stripped):
            section, current = "other", None
        elif sphinx:
            section, section_indent = "sphinx", indent
            kind, target, text = sphinx.groups()
            current = None
            if kind in ("param", "parameter", "arg", "argument") and target:
                current = params.setdefault(target.split()[-1], [])
                current.append(text)
        elif section == "description":
            description.append(line)
        elif section == "args" and stripped and indent > section_indent:
            entry = _GOOGLE_ENTRY.match(stripped)
            if entry_indent is None:
                entry_indent = indent
            if entry and indent <= entry_indent:
                current = params.setdefault(entry.group(1).lstrip("*"), [])
                current.append(entry.group(2))
            elif current is not None:  # a deeper line continues the entry
                current.append(stripped)
        elif section == "sphinx" and stripped and indent > section_indent and current is not None:
            current.append(stripped)
        elif stripped and indent <= section_indent and section in ("args", "other"):
            section, current = "other", None
    return Docstring(
        description="\n".join(description).strip(),
        params={name: " ".join(p for p in parts if p).strip() for name, parts in params.items()},
    )

