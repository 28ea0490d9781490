"""The stage processes: capture, dsp, model, playout (one module each)."""
