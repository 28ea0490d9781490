"""Transports: one package per kind of caller connection (stage half and agent half);
``base`` holds the protocols the stages use, ``registry`` finds a kind's package."""
