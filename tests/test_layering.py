"""The layout's rules (docs/architecture.md), read from the source: which package may
import which. Static (ast), so nothing is imported and the test takes milliseconds;
every import counts, including those under ``TYPE_CHECKING`` and inside functions."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "ipc", "native")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    """Every module of the runtime's packages, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    for path in sorted((ROOT / "native").glob("*.pyx")):
        found[_module_name(path)] = path
    return found


@cache
def _imports(name: str) -> frozenset[str]:
    """What module ``name`` imports, resolved to module names where they are modules
    (``from a import b`` imports ``a.b`` when that is a module, else ``a``)."""
    path = _modules()[name]
    if path.suffix != ".py":
        return frozenset()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in _modules() else base)
    return frozenset(found)


def _under(prefix: str) -> Iterator[str]:
    return (m for m in _modules() if m == prefix or m.startswith(prefix + "."))


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _violations(importer: str, forbidden: tuple[str, ...],
                allowed: tuple[str, ...] = ()) -> list[str]:
    return sorted(f"{m} imports {dep}" for m in _under(importer) for dep in _imports(m)
                  if _within(dep, forbidden) and not _within(dep, allowed))


def test_the_analysis_sees_imports() -> None:
    """The rules below would pass vacuously if the walk found nothing."""
    assert "pipeline.agents.multimodal.agent" in _modules()
    assert "pipeline.agents.room" in _imports("pipeline.agents.multimodal.agent")
    assert "native.resample" in _modules()


def test_agent_api_never_imports_stages_or_kernels() -> None:
    assert _violations("pipeline.agents", ("pipeline.stages", "native")) == []


def test_agent_api_never_imports_a_provider() -> None:
    assert _violations("pipeline.agents", ("pipeline.providers",),
                       allowed=("pipeline.providers.base",)) == []


def test_stages_never_import_the_agent_api_or_plugins() -> None:
    assert _violations("pipeline.stages", ("pipeline.agents", "pipeline.plugins")) == []


def test_supervisor_knows_transports_and_providers_only_by_spec() -> None:
    """The supervisor spawns stages and routes sessions: a transport or a provider is a
    spec in the wire schema to it, never code it imports."""
    forbidden = ("pipeline.transports", "pipeline.providers", "pipeline.stages",
                 "pipeline.agents", "pipeline.plugins", "pipeline.model_server")
    assert _violations("pipeline.supervisor", forbidden) == []


def test_providers_never_import_the_agent_api() -> None:
    assert _violations("pipeline.providers", ("pipeline.agents",)) == []


def test_model_server_imports_only_process_helpers_and_kernels() -> None:
    """The offline server is its own package: of the runtime it uses the process
    helpers, the resampler and the VAD state machine (one in the tree), and the neutral
    text and trace helpers it shares with the agent API and the OpenAI client."""
    allowed = ("pipeline.model_server", "pipeline.process", "pipeline.logs",
               "pipeline.language", "native.resample", "native.vad", "ipc.protocol_trace",
               "ipc.addresses")
    assert _violations("pipeline.model_server", ("pipeline", "native", "ipc"), allowed) == []


def test_no_import_cycles() -> None:
    """Every import counts (a cycle under TYPE_CHECKING is still two modules that
    cannot be read, moved or tested apart)."""
    graph = {m: {d for d in _imports(m) if d in _modules() and d != m} for m in _modules()}
    # A package's __init__ importing its own submodules is how packages re-export.
    for m, deps in graph.items():
        deps -= {p for p in deps if m.startswith(p + ".")}
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for dep in sorted(graph[m]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*path[path.index(dep):], dep]))
            elif dep not in state:
                visit(dep)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert cycles == []


def test_file_room_stays_in_the_file_transport() -> None:
    """The agent API, examples and docs know rooms by the protocol, not the file room."""
    places = [ROOT / "pipeline", ROOT / "examples", ROOT / "docs", ROOT / "benchmarks"]
    files = [p for place in places for p in place.rglob("*") if p.suffix in (".py", ".md")]
    files += [ROOT / "README.md", ROOT / "Makefile"]
    home = ROOT / "pipeline" / "transports" / "file"
    named = sorted(str(p.relative_to(ROOT)) for p in files
                   if home not in p.parents and "FileRoom" in p.read_text())
    assert named == []
