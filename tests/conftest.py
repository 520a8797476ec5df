"""Shared fixtures: small test clips made once per session; the repository add-on enabled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clips import dark_to_bright, render_frames, write_clip


@pytest.fixture(scope="session")
def dark_bright_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s at 25 fps: dark, grey and still, then bright, saturated and moving; a 440 Hz track."""
    path = tmp_path_factory.mktemp("clips") / "dark_bright.mp4"
    return write_clip(path, render_frames(dark_to_bright(), 8.0, 25.0), 25.0, tone_hz=440.0)


#: The repository add-on's module name (``addon_utils`` finds it on ``sys.path``).
ADDON = "blender_addon"


@pytest.fixture(scope="module")
def addon() -> Iterator[Any]:
    """The repository add-on enabled in this ``bpy`` for a module's tests; yields its
    preferences. Disabled again after the module."""
    bpy = pytest.importorskip("bpy")
    import addon_utils

    addon_utils.enable(ADDON, default_set=True)
    yield bpy.context.preferences.addons[ADDON].preferences
    addon_utils.disable(ADDON, default_set=True)
