"""voxpipe's inter-process plumbing: wire schema, sockets, runtime dir, heartbeats."""
