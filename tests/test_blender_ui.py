"""The real Blender UI (Debian's ``blender``, legacy add-on path) under Xvfb.

Installs the built zip with the legacy installer, shows the Moodscore tab beside a selected
movie strip, presses Score through the button's operator (``INVOKE_DEFAULT``: the modal path
that polls the engine process from a timer), screenshots the window while the status bar and
the panel show the progress, then undoes the score. Set ``MOODSCORE_UPDATE_SCREENSHOT=1`` to
copy that screenshot to ``docs/addon_panel.png``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.blender_ui_driver import build_legacy_zip, run_ui_steps
from tests.clips import dark_to_bright, render_frames, write_clip

pytestmark = [
    pytest.mark.blender,
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("blender") is None or shutil.which("Xvfb") is None,
        reason="needs the blender binary and Xvfb",
    ),
]
REPO = Path(__file__).resolve().parent.parent
SCREENSHOT = REPO / "docs" / "addon_panel.png"

UI_STEPS = r"""
# Runs after SEQUENCER_UI (tests/blender_ui_driver.py), which defines args, engine and helpers.
import os
report = {}
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 150
editor, clip = add_selected_movie("clip.mp4", 25)
clip.frame_offset_start = 25
window, area = sequencer_with_sidebar()
started = time.monotonic()
phase = ["start"]


def score_strip(name="clip.mp4 · score"):
    # Fetched afresh: undo reloads the data, leaving older Python references dangling.
    every = every_strip(bpy.data.scenes[0].sequence_editor)
    return next((s for s in every if s.name == name), None)


def advance():
    if time.monotonic() - started > 150:
        fail("timed out")
        return None
    with bpy.context.temp_override(window=window, area=area, region=window_region(area)):
        if phase[0] == "start":
            open_moodscore_tab(window, area)
            phase[0] = "score"
            return 0.5
        if phase[0] == "score":
            bpy.ops.sequencer.view_all()
            bpy.ops.ed.undo_push(message="Add the clip")  # what the user's own edits do
            report["invoke"] = sorted(bpy.ops.moodscore.score_strip("INVOKE_DEFAULT"))
            report["running_right_after_invoke"] = engine.active_job() is not None
            report["progress"] = []
            phase[0] = "running"
            return 0.02
        if phase[0] == "running":
            job = engine.active_job()
            if job is not None:
                seen = [job.stage, job.fraction]
                if not report["progress"] or report["progress"][-1] != seen:
                    report["progress"].append(seen)
                header = bpy.types.STATUSBAR_HT_header
                report["status_bar"] = getattr(header.draw, "__name__", "")
                if job.fraction >= 0.3 and "progress_png" not in report:
                    bpy.ops.screen.screenshot(filepath=args["progress_png"])
                    report["progress_png"] = job.fraction
                return 0.02
            score = score_strip()
            if score is None:
                report["error"] = "the job ended without a score strip"
                finish(False)
                return None
            report["score"] = {
                "start": score.frame_final_start, "channel": score.channel,
                "frames": score.frame_final_duration, "path": score.sound.filepath,
                "exists": os.path.isfile(bpy.path.abspath(score.sound.filepath)),
            }
            bpy.ops.sequencer.view_all()
            phase[0] = "shot"
            return 1.0  # let the panel and timeline redraw
        if phase[0] == "shot":
            bpy.ops.screen.screenshot(filepath=args["png"])
            report["tensorflow_imported"] = "tensorflow" in sys.modules
            report["undo"] = sorted(bpy.ops.ed.undo())
            report["undo_removed_strip"] = score_strip() is None
            report["undo_kept_movie"] = score_strip("clip.mp4") is not None
            finish(True)
            return None


bpy.app.timers.register(guarded(advance, fail), first_interval=2.0)
"""


def test_score_from_the_sidebar_in_real_blender(tmp_path: Path) -> None:
    addon_zip = build_legacy_zip(tmp_path / "build")
    clip = write_clip(tmp_path / "clip.mp4", render_frames(dark_to_bright(640, 360), 6.0, 25.0))
    paths = {
        "zip": str(addon_zip),
        "clip": str(clip),
        "blend": str(tmp_path / "edit.blend"),
        "png": str(tmp_path / "panel.png"),
        "progress_png": str(tmp_path / "progress.png"),
        "report": str(tmp_path / "report.json"),
    }
    run, report = run_ui_steps(UI_STEPS, paths, tmp_path)
    assert "Traceback" not in run.stdout + run.stderr, run.stdout[-3000:]  # e.g. a draw error
    assert report["invoke"] == ["RUNNING_MODAL"] and report["running_right_after_invoke"]
    # The status bar and the panel followed the engine (no "waiting (0%)" left standing).
    assert report["status_bar"] == "draw_status"
    stages = [stage for stage, _ in report["progress"]]
    fractions = [fraction for _, fraction in report["progress"]]
    assert len(set(stages)) >= 3 and fractions == sorted(fractions), report["progress"]
    assert report["progress_png"] >= 0.3
    score = report["score"]
    assert (score["start"], score["channel"]) == (26, 3)
    assert abs(score["frames"] - 125) <= 1
    assert score["path"] == "//moodscore/clip.mp4/v1/clip.wav"
    assert score["exists"]
    assert not report["tensorflow_imported"]  # its HDF5 clashes with Blender's
    assert report["undo_removed_strip"] and report["undo_kept_movie"], report
    # Undone, then Blender quit: nothing can reach that score any more, so its files went.
    assert not (tmp_path / "moodscore" / "clip.mp4" / "v1").exists()
    for png in (Path(paths["png"]), Path(paths["progress_png"])):
        assert png.stat().st_size > 20_000
    if os.environ.get("MOODSCORE_UPDATE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copy(paths["progress_png"], SCREENSHOT)
