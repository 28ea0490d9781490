"""voxpipe: a realtime multimodal voice-agent runtime on a multiprocess ZeroMQ pipeline.

Where each part runs: ``stages/`` (one module per stage process), ``supervisor/``
(the supervisor process), ``agents/`` and ``plugins/`` (the user's agent API, in the
supervisor), ``providers/`` (realtime-model wire protocols, in the model stage),
``transports/`` (one package per transport), ``record/`` (the session record) and
``model_server/`` (the bundled offline model, its own process). The agent API is
``pipeline.agents``.
"""
