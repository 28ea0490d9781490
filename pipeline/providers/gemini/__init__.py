"""Gemini Live (``BidiGenerateContent``) behind the provider seam, with session resumption."""

from pipeline.providers.gemini.connection import gemini_url
from pipeline.providers.gemini.provider import GeminiProvider, create_provider
from pipeline.providers.gemini.setup import CAPABILITIES

__all__ = ["CAPABILITIES", "GeminiProvider", "create_provider", "gemini_url"]
