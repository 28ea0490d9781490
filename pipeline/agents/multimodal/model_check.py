"""Which model objects ``MultimodalAgent`` takes, and the error for the ones it cannot.

The seed's ``_RealtimeAPI`` is an in-process model: its ``session()`` object reads
audio frames and talks to the provider in the agent's own process. voxpipe runs the
provider in its model stage, so a model here is a description the stages act on
(``pipeline.agents.realtime.RealtimeModel``: ``settings``, ``api_key``, ``url()``,
``capabilities``, ``session()``). A model written against the seed's protocol is
refused at construction with the way to add it, never an AttributeError in ``start()``.
"""

from __future__ import annotations

from typing import Any

from pipeline.agents.realtime.model import ModelSettings

SUPPORTED_MODELS = (
    "pipeline.plugins.openai.realtime.RealtimeModel",
    "pipeline.plugins.google.beta.realtime.RealtimeModel",
    "pipeline.plugins.offline.realtime.RealtimeModel",
)
PROVIDER_ENTRY_POINTS = "voxpipe.providers"


def check_model(model: Any) -> None:
    """Raise TypeError (one message: what is supported, how to add a provider) unless
    ``model`` is a realtime model the pipeline can run."""
    if (isinstance(getattr(model, "settings", None), ModelSettings)
            and callable(getattr(model, "url", None))
            and callable(getattr(model, "session", None))
            and hasattr(model, "capabilities") and hasattr(model, "api_key")):
        return
    seed_shaped = callable(getattr(model, "session", None)) and hasattr(model, "capabilities")
    why = ("it follows the seed's in-process _RealtimeAPI protocol, but voxpipe runs the "
           "model's connection in its model stage" if seed_shaped
           else "it is not a realtime model")
    raise TypeError(
        f"model must be a voxpipe realtime model ({', '.join(SUPPORTED_MODELS)}); got "
        f"{type(model).__name__}: {why}. To add another model, install a provider under "
        f"the {PROVIDER_ENTRY_POINTS!r} entry point group with its agent-side RealtimeModel "
        "(docs/architecture.md, 'Adding a provider')")
