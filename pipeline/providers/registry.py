"""Which module serves a provider name, and the extension point for providers outside
the tree.

Looked up in this order:

1. ``VOXPIPE_PROVIDER_MODULES="fake=tests.providers.fake,other=pkg.mod"`` (tests, local
   overrides);
2. the ``voxpipe.providers`` entry point group: a third-party package adds a provider by
   declaring, in its ``pyproject.toml``,
   ``[project.entry-points."voxpipe.providers"] mymodel = "mypkg.provider"`` (a module
   with ``create_provider()``, or ``"mypkg.provider:create_provider"``, the factory
   itself); its agent-side ``RealtimeModel`` names ``mymodel`` in ``ModelSettings``;
3. ``pipeline.providers.<name>`` (the in-tree providers).

A module must expose ``create_provider() -> Provider`` (``providers/base.py``).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import re
import sys
from collections.abc import Callable
from types import ModuleType
from typing import cast

from pipeline.process import module_overrides
from pipeline.providers.base import Provider

PROVIDER_MODULES_ENV = "VOXPIPE_PROVIDER_MODULES"
ENTRY_POINT_GROUP = "voxpipe.providers"
_NAME = re.compile(r"[a-z][a-z0-9_]*")

ProviderFactory = Callable[[], Provider]

# The providers in the tree (``pipeline.providers.<name>``), named in errors.
BUILT_IN = ("openai", "gemini")


def _entry_point(name: str) -> importlib.metadata.EntryPoint | None:
    # Scanning the installed distributions costs milliseconds (every dist-info is read):
    # once per name and import path, not once per session start on the model loop.
    return _entry_point_on_path(name, tuple(sys.path))


@functools.lru_cache(maxsize=64)
def _entry_point_on_path(name: str, path: tuple[str, ...]) -> importlib.metadata.EntryPoint | None:
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=name)
    return next(iter(found), None)


def provider_module(name: str) -> str:
    """The module path serving provider ``name`` (for an entry point, what it names);
    raises ValueError for a bad name."""
    module = module_overrides(PROVIDER_MODULES_ENV).get(name)
    if module is not None:
        return module
    if not _NAME.fullmatch(name):
        raise ValueError(f"invalid provider name {name!r}")
    ep = _entry_point(name)
    if ep is not None:
        return ep.value
    return f"pipeline.providers.{name}"


def provider_factory(name: str) -> ProviderFactory:
    """The ``create_provider`` of provider ``name``.

    Raises ValueError naming the provider when it has no module or no factory.
    """
    target = provider_module(name)
    module_name, _, attr = target.partition(":")
    try:
        loaded: object = importlib.import_module(module_name.strip())
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise  # the module exists but lacks a dependency: say that, not "unknown"
        raise ValueError(
            f"unknown model provider {name!r} (no module {module_name}; built in: "
            f"{', '.join(BUILT_IN)}; providers outside voxpipe register under the "
            f"{ENTRY_POINT_GROUP!r} entry point group)") from exc
    for part in filter(None, attr.strip().split(".")):
        loaded = getattr(loaded, part, None)
    factory = getattr(loaded, "create_provider", None) if isinstance(loaded, ModuleType) \
        else loaded
    if not callable(factory):
        raise ValueError(f"model provider {name!r}: {target} has no create_provider()")
    return cast(ProviderFactory, factory)
