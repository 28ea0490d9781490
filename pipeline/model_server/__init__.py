"""`voxpipe model-server`: an offline server speaking the OpenAI Realtime protocol.

It is the default model for voxpipe's demo and the target of fault tests. Two
reply engines: `dialogue` (the default of the command line) recognizes the
user's speech, answers by rules or calls a declared tool, and speaks the answer;
`echo` (the in-process default, used by the protocol tests) echoes each user
turn back.

A package of its own, run as its own process: it imports nothing of the
runtime but the process helpers (`pipeline.process`, `pipeline.logs`), the
resampler kernel (`native.resample`), the VAD state machine kernel
(`native.vad`), the protocol trace (`ipc.protocol_trace`) and the shared
sentence splitter (`pipeline.language`). Its parts:

- `protocol/`: one connection's Realtime protocol state (`session`), its
  configuration, turn detection, input buffer, conversation, responses,
  faults and outgoing events, and the `reply_engine` seam;
- `speech/`: recognizer (`stt/`), synthesizer (`tts`), live transcription of
  user turns and the process's speech thread pool (`speech_runtime`);
- `dialogue/`: the rule-based reply engine and its tool matcher;
- `server`: the websocket server and its command line;
- `launcher`: starts (and, when voxpipe spawned it, supervises) the server as
  a child process.
"""
