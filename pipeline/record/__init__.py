"""The session record, written for every transport: ``events.jsonl`` and ``conversation.wav``."""
