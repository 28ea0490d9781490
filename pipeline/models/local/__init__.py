"""`voxpipe model-server`: an offline server speaking the OpenAI Realtime protocol.

It is the default model for voxpipe's tests and demo and the target of fault
tests. The first reply engine echoes each user turn back; the protocol state
(session, conversation, input buffer, server VAD, responses) is written to be
kept when a real STT/TTS engine replaces the echo.

Modules: `wire` (ids, event names, errors, field checks), `dialect` (GA vs
beta shapes), `session_config`, `server_vad`, `audio_buffer`, `conversation`,
`reply_engine`, `response_run`, `session` (one connection's protocol state)
and `server` (websocket server and CLI).
"""
