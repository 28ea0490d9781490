"""voxpipe's bundled offline model server as an agent model (``realtime.RealtimeModel``)."""
