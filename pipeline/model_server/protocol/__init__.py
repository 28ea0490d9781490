"""The server's side of the OpenAI Realtime protocol, transport-free.

`session` holds one connection's state and dispatches client events; around
it: `wire` (ids, event names, errors, field checks), `dialect` (GA vs beta
shapes), `session_config` (the `session.update` state), `session_options`
(per connection, from the URL query), `server_vad` (turn detection),
`audio_buffer`, `audio_format` (pcm16 / G.711 at the edges), `conversation`,
`response_params` and `response_run` (one response from request to
`response.done`), `token_estimate` (usage), `rate_limits`, `outgoing` (trace,
fault and bounded send of server events), `faults` (`?fault=…`) and
`reply_engine` (what a response says: the seam the dialogue engine and the
echo engine implement).
"""
