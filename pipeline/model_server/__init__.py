"""`voxpipe model-server`: an offline server speaking the OpenAI Realtime protocol.

It is the default model for voxpipe's demo and the target of fault tests. Two
reply engines: `dialogue` (the default of the command line) recognizes the
user's speech, answers by rules or calls a declared tool, and speaks the answer;
`echo` (the in-process default, used by the protocol tests) echoes each user
turn back.

Modules: `wire` (ids, event names, errors, field checks), `dialect` (GA vs
beta shapes), `session_config`, `server_vad`, `audio_buffer`, `conversation`,
`reply_engine`, `response_run`, `session` (one connection's protocol state)
and `server` (websocket server and CLI). Around them: `session_options` (per
connection, from the URL query), `audio_format` (pcm16 / G.711 at the edges),
`rate_limits`, `outgoing` (trace, fault and bounded send of server events) and
`faults` (faults on demand, `?fault=…`). The dialogue engine: `turn_transcriber`
(user turns decoded while spoken, transcription events), `dialogue` (the rules),
`tool_matcher` (tool choice and arguments), `speech_runtime` (the process's
recognizer, synthesizer and thread pool; sentence lookahead), with `stt`,
`transcription` and `tts` underneath.
"""
