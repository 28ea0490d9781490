"""Text rules shared by the agent API and the offline model server (pure functions).

A neutral leaf: it imports nothing of voxpipe, so the agent's tokenizers
(`pipeline.agents.tokenize`) and the model server's speech synthesis
(`pipeline.model_server.speech.tts`) split sentences the same way.
"""
