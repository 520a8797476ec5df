"""Video: probing, frame sampling, splitting and muxing (PyAV)."""
