"""Realtime-model wire protocols, used by the model stage only."""
