"""``voxpipe serve``: the runtime as a server a browser calls (WebRTC signalling over
HTTP, one agent job per call), running in the supervisor process."""

from pipeline.serve.options import ServeOptions, ServeUsageError
from pipeline.serve.server import ServeError, serve

__all__ = ["ServeError", "ServeOptions", "ServeUsageError", "serve"]
