"""Realtime models as livekit-agents users import them: ``pipeline.plugins.openai.realtime``
(``livekit.plugins.openai.realtime``) and ``pipeline.plugins.offline.realtime`` (voxpipe's
bundled offline model)."""
