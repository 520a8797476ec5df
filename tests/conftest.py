"""Shared fixtures: small test clips made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clips import dark_to_bright, render_frames, write_clip


@pytest.fixture(scope="session")
def dark_bright_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s at 25 fps: dark, grey and still, then bright, saturated and moving; a 440 Hz track."""
    path = tmp_path_factory.mktemp("clips") / "dark_bright.mp4"
    return write_clip(path, render_frames(dark_to_bright(), 8.0, 25.0), 25.0, tone_hz=440.0)
