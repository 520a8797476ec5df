"""``scripts/build_addon.py``: a deterministic, valid zip that installs into Blender.

Installing runs in a subprocess with its own ``HOME`` so the extension's classes never meet
the repository add-on that other tests register in this process.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("bpy")

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
BUILD = [sys.executable, str(REPO / "scripts" / "build_addon.py"), "--platforms", "linux-x64"]
CACHE = REPO / "dist" / "wheels-cache"  # shared with `make addon`; gitignored


@pytest.fixture(scope="module")
def addon_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "moodscore.zip"
    subprocess.run([*BUILD, "--out", str(out), "--cache", str(CACHE)], check=True, timeout=600)
    return out


def test_zip_holds_manifest_core_model_and_wheels(addon_zip: Path) -> None:
    with zipfile.ZipFile(addon_zip) as archive:
        names = set(archive.namelist())
        manifest = tomllib.loads(archive.read("moodscore/blender_manifest.toml").decode())
    assert manifest["id"] == "moodscore" and manifest["platforms"] == ["linux-x64"]
    assert {"moodscore/__init__.py", "moodscore/core/pipeline.py"} <= names
    models = {f"moodscore/core/data/{p.name}" for p in (REPO / "core" / "data").glob("*.npz")}
    assert models and models <= names
    wheels = {name.removeprefix("moodscore/") for name in names if name.endswith(".whl")}
    assert {f"./{w}" for w in wheels} == set(manifest["wheels"])
    for project in ("opencv_python_headless", "av", "mido", "pyfluidsynth", "pyyaml", "tqdm"):
        assert any(Path(w).name.lower().startswith(project + "-") for w in wheels), project
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    assert not any(Path(w).name.startswith(("numpy-", "tensorflow")) for w in wheels)


def test_build_is_deterministic(addon_zip: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    subprocess.run(
        [*BUILD, "--out", str(again), "--cache", str(CACHE), "--no-validate"],
        check=True,
        timeout=600,
    )
    assert (
        hashlib.sha256(again.read_bytes()).digest()
        == hashlib.sha256(addon_zip.read_bytes()).digest()
    )


INSTALL_AND_SCORE = r"""
import json, sys
from pathlib import Path
import bpy
zip_path, mode, clip = sys.argv[1:4]
if mode == "extension":
    bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True)
else:
    bpy.ops.preferences.addon_install(filepath=zip_path)
    bpy.ops.preferences.addon_enable(module="moodscore")
operator = bpy.types.MOODSCORE_OT_score_strip
scene = bpy.context.scene
scene.sequence_editor_create()
strips = scene.sequence_editor.strips
strips.new_movie("clip", clip, 1, 1)
scene.moodscore.generator = "scales"
result = bpy.ops.moodscore.score_strip(strip="clip")
score = strips["clip · score"]
import importlib
root = operator.__module__.rpartition(".operators")[0]
core = importlib.import_module(root + ".core")
print("RESULT" + json.dumps({
    "module": operator.__module__, "core": core.__file__, "result": sorted(result),
    "channel": score.channel, "frames": score.frame_final_duration,
}))
"""


@pytest.mark.parametrize("mode", ["extension", "legacy"])
def test_zip_installs_and_scores(addon_zip: Path, tmp_path: Path, mode: str) -> None:
    from tests.clips import dark_to_bright, render_frames, write_clip

    clip = write_clip(tmp_path / "clip.mp4", render_frames(dark_to_bright(160, 90), 3.0, 25.0))
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", INSTALL_AND_SCORE, str(addon_zip), mode, str(clip)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HOME": str(home), "TMPDIR": str(tmp_path)},
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, result.stdout[-2000:] + result.stderr[-2000:]
    found = json.loads(lines[0].removeprefix("RESULT"))
    package = "bl_ext.user_default.moodscore" if mode == "extension" else "moodscore"
    assert found["module"] == f"{package}.operators.scoring"
    assert str(home) in found["core"]  # the vendored engine, not the repository's
    assert found["result"] == ["FINISHED"]
    assert (found["channel"], found["frames"]) == (2, 75)
