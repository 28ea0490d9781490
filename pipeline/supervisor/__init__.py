"""The supervisor process: stage lifecycle, sessions, the event bus."""
