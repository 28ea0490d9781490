"""Realtime model providers: the OpenAI Realtime protocol client and the offline model server."""
