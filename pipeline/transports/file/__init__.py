"""File transport: a WAV file plays the caller (capture reads it through ``source``);
nothing leaves but the session record (``sink``); ``room`` is the agent's view."""
