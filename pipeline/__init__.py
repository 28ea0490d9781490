"""voxpipe: a realtime multimodal voice-agent runtime on a multiprocess ZeroMQ pipeline."""
