"""Emotion analysis: a video's arousal and valence per step of the musical grid.

``analyze(video, config)`` is the entry point; :mod:`.export` writes the CSV, cut list and plot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .analysis import analyze, validate_sources

__all__ = ["analyze", "validate_sources"]


def __getattr__(name: str) -> Any:
    # Lazy: `core.config` imports `.config` of this package, and the analysis pulls in PyAV and
    # OpenCV, which the add-on's enable (Blender's own process) and the CLI's --help must not.
    if name in __all__:
        from . import analysis

        return getattr(analysis, name)
    raise AttributeError(name)
