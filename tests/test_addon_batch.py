"""``scripts/batch_render.py`` with the real ``bpy`` module: score what lacks a score, render."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import av
import pytest

bpy = pytest.importorskip("bpy")

from blender_addon import compat  # noqa: E402
from tests.clips import dark_to_bright, render_frames, write_clip  # noqa: E402

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def load_batch_render():
    spec = importlib.util.spec_from_file_location(
        "batch_render", REPO / "scripts" / "batch_render.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("batch_render", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def disable_addon_afterwards():
    """The script enables the repository add-on when it is missing; leave Blender as found."""
    yield
    import addon_utils

    if addon_utils.check("blender_addon")[1]:
        addon_utils.disable("blender_addon")


@pytest.fixture
def edit_blend(tmp_path: Path) -> Path:
    """A saved edit: 4 s (100 frames at 25 fps) of two trimmed strips of one clip."""
    clip = write_clip(tmp_path / "clip.mp4", render_frames(dark_to_bright(160, 90), 5.0, 25.0))
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    scene.render.resolution_x, scene.render.resolution_y = 160, 90
    scene.render.resolution_percentage = 100
    scene.frame_start, scene.frame_end = 1, 100
    strips = compat.strips_in(scene.sequence_editor_create())
    first = strips.new_movie("opening", str(clip), 1, 1)
    compat.set_strip_timing(first, "right_handle", 51)
    second = strips.new_movie("closing", str(clip), 1, 51 - 60)
    compat.set_strip_timing(second, "left_handle", 51)
    compat.set_strip_timing(second, "right_handle", 101)
    blend = tmp_path / "edit.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    return blend


def test_batch_render_scores_and_renders_h264_aac_of_the_edit_length(
    edit_blend: Path, tmp_path: Path
) -> None:
    batch_render = load_batch_render()
    out = tmp_path / "render" / "out.mp4"

    status = batch_render.main(
        ["--blend", str(edit_blend), "--generator", "scales", "--output", str(out)]
    )

    assert status == 0
    assert [p.name for p in out.parent.iterdir()] == ["out.mp4"]  # no partial file left
    scene = bpy.context.scene
    assert {s.name for s in compat.all_strips(scene) if s.type == "SOUND"} == {
        "opening · score",
        "closing · score",
    }
    assert batch_render.strips_to_score(scene, rescore=False) == []
    assert batch_render.strips_to_score(scene, rescore=True) == ["opening", "closing"]
    with av.open(str(out)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264"
        assert audio.codec_context.name == "aac"
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 100
    assert float(audio.duration * audio.time_base) == pytest.approx(4.0, abs=0.1)


def score_folders(blend: Path) -> list[str]:
    return sorted(path.name for path in (blend.parent / "moodscore").iterdir())


def test_rerun_without_save_scores_into_the_same_folders(edit_blend: Path, tmp_path: Path) -> None:
    batch_render = load_batch_render()
    args = ["--blend", str(edit_blend), "--generator", "scales"]

    assert batch_render.main([*args, "--output", str(tmp_path / "first.mp4")]) == 0
    first_wav = next((edit_blend.parent / "moodscore" / "opening").rglob("*.wav"))
    first_bytes = first_wav.read_bytes()
    assert batch_render.main([*args, "--seed", "7", "--output", str(tmp_path / "again.mp4")]) == 0

    assert score_folders(edit_blend) == ["closing", "opening"]  # no opening-2, closing-2
    assert first_wav.read_bytes() != first_bytes  # the rerun's new seed, in the same folder


def test_save_keeps_the_scores_for_the_next_run(edit_blend: Path, tmp_path: Path) -> None:
    batch_render = load_batch_render()
    args = ["--blend", str(edit_blend), "--generator", "scales", "--save"]

    assert batch_render.main([*args, "--output", str(tmp_path / "first.mp4")]) == 0
    wavs = sorted((edit_blend.parent / "moodscore").rglob("*.wav"))
    stamps = [path.stat().st_mtime_ns for path in wavs]
    bpy.ops.wm.read_homefile(use_empty=True)
    assert batch_render.main([*args, "--output", str(tmp_path / "again.mp4")]) == 0

    assert batch_render.strips_to_score(bpy.context.scene, rescore=False) == []
    assert score_folders(edit_blend) == ["closing", "opening"]
    assert [path.stat().st_mtime_ns for path in wavs] == stamps  # nothing scored again
    assert (tmp_path / "again.mp4").is_file()


def test_save_refuses_an_unsaved_file(tmp_path: Path, capsys) -> None:
    batch_render = load_batch_render()
    bpy.ops.wm.read_homefile(use_empty=True)
    compat.strips_in(bpy.context.scene.sequence_editor_create())

    status = batch_render.main(["--save", "--output", str(tmp_path / "o.mp4")])

    assert status == 1
    assert "--save needs a saved .blend" in capsys.readouterr().err


def test_batch_render_fails_with_a_message(tmp_path: Path, capsys) -> None:
    batch_render = load_batch_render()
    missing = tmp_path / "nope.blend"

    status = batch_render.main(["--blend", str(missing), "--output", str(tmp_path / "o.mp4")])

    assert status == 1
    assert "nope.blend does not exist" in capsys.readouterr().err


@pytest.mark.blender
@pytest.mark.skipif(shutil.which("blender") is None, reason="needs the blender binary")
def test_batch_render_script_exits_nonzero_in_blender(tmp_path: Path) -> None:
    import subprocess

    result = subprocess.run(
        [
            "blender",
            "-b",
            "--factory-startup",
            "-P",
            str(REPO / "scripts" / "batch_render.py"),
            "--",
            "--output",
            str(tmp_path / "o.mp4"),
            "--generator",
            "nope",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=blender_env(),
    )
    assert result.returncode != 0
    assert "batch_render: error:" in result.stderr


def blender_env() -> dict[str, str]:
    """The environment for Debian's blender: the venv's packages on ``PYTHONPATH``."""
    import os
    import site

    paths = [str(REPO), *site.getsitepackages()]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
