"""voxpipe's Cython kernels: int16/float conversion, downmix, gain, meters, chunking, G.711.

The compiled modules (``native.convert``, ``native.chunker``) are imported by
their users, never from here, so importing ``native`` works before they are built.
"""
