"""File transport: WAV in, WAV out, conversation timeline and event log."""
