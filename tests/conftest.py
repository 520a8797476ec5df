"""Shared fixtures: small test clips made once per session; the repository add-on enabled."""

from __future__ import annotations

import shutil
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


@pytest.fixture(scope="module")
def clip25(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s at 25 fps, 160x90: dark and still for 4 s, then bright, colourful and moving."""
    path = tmp_path_factory.mktemp("clips") / "clip25.mp4"
    return write_clip(path, render_frames(dark_to_bright(160, 90), 8.0, 25.0), 25.0)


@pytest.fixture
def edit(addon, tmp_path: Path, clip25: Path):
    """A fresh scene saved as ``tmp_path/edit.blend`` with the clip beside it."""
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    scene.moodscore.generator = "chords"
    shutil.copy(clip25, tmp_path / "clip.mp4")
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "edit.blend"))
    scene.sequence_editor_create()
    return scene


@pytest.fixture
def online_access():
    """Set Blender's own online-access preference; restored afterwards."""
    import bpy

    system = bpy.context.preferences.system
    before = system.use_online_access

    def set_to(allowed: bool) -> None:
        system.use_online_access = allowed
        assert bpy.app.online_access is allowed

    yield set_to
    system.use_online_access = before
