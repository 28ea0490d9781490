"""Speech in and out for the model server.

`stt/` (recognizers: Whisper from a wheel, PocketSphinx), `transcription`
(streaming recognition of a growing turn), `turn_decode` and
`turn_transcriber` (user turns decoded while spoken, transcription events),
`tts` with `espeak_lib` and `word_timing` (eSpeak NG synthesis with word
times), and `speech_runtime` (the process's recognizer, synthesizer and
thread pool; sentence lookahead).
"""
