"""Transports: where a session's audio comes from and goes to (file, LiveKit)."""
