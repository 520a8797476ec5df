"""Test clips of real photographs (faces), from images that installed packages ship."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.config import Config
from tests.clips import write_clip

FPS = 10.0
SIZE = (640, 360)


@cache
def photo(name: str) -> np.ndarray:
    """A real photograph an installed package ships, as RGB: 'hopper' or 'astronaut'."""
    if name == "hopper":
        import matplotlib.cbook

        path = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    else:
        skimage = pytest.importorskip("skimage")
        path = Path(skimage.__file__).parent / "data" / "astronaut.png"
    picture = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    # The astronaut photo is a half-length portrait; frame it as a video close-up would.
    return picture[:330, 60:420] if name == "astronaut" else picture


def compose(
    placements: list[tuple[str, int, int, int]],
    size: tuple[int, int] = SIZE,
    background: tuple[int, int, int] = (60, 70, 80),
) -> np.ndarray:
    """A frame with photos pasted at ``(name, x, y, height)`` (aspect kept)."""
    width, height = size
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = background
    for name, x, y, h in placements:
        picture = photo(name)
        w = round(picture.shape[1] * h / picture.shape[0])
        scaled = cv2.resize(picture, (w, h), interpolation=cv2.INTER_AREA)
        visible = scaled[: height - y, : width - x]
        canvas[y : y + visible.shape[0], x : x + visible.shape[1]] = visible
    return canvas


def photo_clip(
    path: Path, placements: list[tuple[str, int, int, int]], seconds: float = 2.0, drift_px: int = 6
) -> Path:
    """A clip of the composed photos drifting slowly sideways (so frames are not identical)."""
    frames = (
        compose([(n, x + round(drift_px * i / (seconds * FPS)), y, h) for n, x, y, h in placements])
        for i in range(round(seconds * FPS))
    )
    return write_clip(path, frames, fps=FPS)


def face_config(sources: list[str] | None = None) -> Config:
    config = Config(bpm=240.0)  # one step per second keeps the clips short
    config.analysis.sources = sources or ["colour", "face"]
    config.analysis.face_frames_per_step = 3
    return config
