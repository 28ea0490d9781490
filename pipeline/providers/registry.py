"""Which module serves a provider name: ``pipeline.providers.<name>`` by convention.

``VOXPIPE_PROVIDER_MODULES="fake=tests.providers.fake,other=pkg.mod"`` adds (or
overrides) names, so a provider can live outside the tree (tests use this for a
scripted one). The module must expose ``create_provider() -> Provider``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import cast

from pipeline.process import module_overrides
from pipeline.providers.base import Provider

PROVIDER_MODULES_ENV = "VOXPIPE_PROVIDER_MODULES"
_NAME = re.compile(r"[a-z][a-z0-9_]*")

ProviderFactory = Callable[[], Provider]

# The providers in the tree (``pipeline.providers.<name>``), named in errors.
BUILT_IN = ("openai", "gemini")


def provider_module(name: str) -> str:
    """The module path serving provider ``name``; raises ValueError for a bad name."""
    module = module_overrides(PROVIDER_MODULES_ENV).get(name)
    if module is not None:
        return module
    if not _NAME.fullmatch(name):
        raise ValueError(f"invalid provider name {name!r}")
    return f"pipeline.providers.{name}"


def provider_factory(name: str) -> ProviderFactory:
    """The ``create_provider`` of provider ``name``.

    Raises ValueError naming the provider when it has no module or no factory.
    """
    module_name = provider_module(name)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise  # the module exists but lacks a dependency: say that, not "unknown"
        raise ValueError(f"unknown model provider {name!r} (no module {module_name}; "
                         f"built in: {', '.join(BUILT_IN)})") from exc
    factory = getattr(module, "create_provider", None)
    if not callable(factory):
        raise ValueError(f"model provider {name!r}: {module_name} has no create_provider()")
    return cast(ProviderFactory, factory)
