"""Emotion analysis: a video's arousal and valence per step of the musical grid.

``analyze(video, config)`` is the entry point; :mod:`.export` writes the CSV, cut list and plot.
"""

from .analysis import analyze, validate_sources

__all__ = ["analyze", "validate_sources"]
