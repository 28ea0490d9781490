"""pyproject's core dependencies are exactly what the runtime (pipeline/, ipc/, native/)
imports; what only tests or benchmarks use lives in extras."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ("pipeline", "ipc", "native")
# Imported by the runtime only when a user picks the feature: installed by its extra.
OPTIONAL_EXTRAS = ("stt-pocketsphinx", "stt-whisper-base")
# Cython's plain imports; its cimports (C declarations, libc/cpython) are no packages.
_IMPORT_LINE = re.compile(r"^\s*(?:import\s+(\w+)|from\s+(\w+)[\w.]*\s+import\s)", re.M)


def _requirement_name(spec: str) -> str:
    return re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0].lower().replace("_", "-")


def _top_level_imports(path: Path) -> set[str]:
    """The modules a file imports, to two levels (``livekit.rtc``): a namespace package's
    top level (``livekit``) is shared by several distributions."""
    text = path.read_text()
    if path.suffix == ".pyx":
        return {a or b for a, b in _IMPORT_LINE.findall(text)}
    names: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names.update(".".join(a.name.split(".")[:2]) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if "." in node.module:
                names.add(".".join(node.module.split(".")[:2]))
            else:
                names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _owners(module: str, dists: list[str]) -> list[str]:
    """Of the distributions sharing ``module``'s top level, those that hold ``module``
    (all of them when that cannot be told)."""
    if len(dists) < 2 or "." not in module:
        return dists
    prefix = module.replace(".", "/")
    owners = [d for d in dists if any(str(f).startswith((prefix + "/", prefix + "."))
                                      for f in distribution(d).files or ())]
    return owners or dists


def runtime_distributions() -> set[str]:
    """Distributions the runtime's modules import (first-party and stdlib left out)."""
    dists = packages_distributions()
    found = set()
    for root in RUNTIME:
        for path in (ROOT / root).rglob("*"):
            if path.suffix not in (".py", ".pyx"):
                continue
            for module in _top_level_imports(path):
                name = module.split(".")[0]
                if name in sys.stdlib_module_names or name in RUNTIME:
                    continue
                for dist in _owners(module, dists.get(name, [name])):
                    found.add(dist.lower().replace("_", "-"))
    return found


def test_core_dependencies_are_what_the_runtime_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_requirement_name(d) for d in project["dependencies"]}
    extras = project["optional-dependencies"]
    optional = {_requirement_name(d) for e in OPTIONAL_EXTRAS for d in extras[e]}
    imported = runtime_distributions()
    print(f"runtime imports: {sorted(imported)}")
    assert imported - optional == core
    assert optional <= imported  # each optional extra is imported somewhere
