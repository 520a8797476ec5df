"""Enable the add-on in the ``bpy`` module and score one strip through its engine process.

Run by ``tests/test_windows_stdlib.py`` with the proxy interpreter::

    python tests/winproxy_addon.py REPO CLIP WORKDIR

It saves ``WORKDIR/edit.blend`` with the clip beside it, scores the strip with the add-on's
operator (in background mode the operator waits for the engine process) and prints one JSON
line: the operator's result, the sound strip's file, and whether ``fcntl`` imports in
Blender's own process (it must not, under the proxy).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import shutil
import sys
from pathlib import Path
from typing import Any


def score_one_strip(repo: Path, clip: Path, workdir: Path) -> dict[str, Any]:
    """Enable the add-on, score ``clip`` as a strip of a saved edit; report what happened."""
    sys.path.insert(0, str(repo))
    import bpy

    # Blender's own modules are importable once bpy is.
    addon_utils = importlib.import_module("addon_utils")
    addon_utils.enable("blender_addon", default_set=True)
    from blender_addon import compat

    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    scene.moodscore.generator = "chords"
    shutil.copy(clip, workdir / "clip.mp4")
    bpy.ops.wm.save_as_mainfile(filepath=str(workdir / "edit.blend"))
    scene.sequence_editor_create()
    compat.strips_in(scene.sequence_editor).new_movie("clip", "//clip.mp4", 1, 1)
    status = bpy.ops.moodscore.score_strip(strip="clip")
    score = compat.find_strip(scene, "clip · score")
    report = {
        "status": sorted(status),
        "sound": score.sound.filepath if score is not None else None,
        "fcntl_importable": importlib.util.find_spec("fcntl") is not None,
    }
    addon_utils.disable("blender_addon", default_set=True)
    return report


if __name__ == "__main__":
    repo, clip, workdir = map(Path, sys.argv[1:4])
    print(json.dumps(score_one_strip(repo, clip, workdir)))
