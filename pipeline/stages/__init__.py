"""The stage processes, one module each: capture (file ingress), edge (live connections),
dsp, model, playout; beside them the logic only one stage uses."""
