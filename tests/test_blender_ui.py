"""The real Blender UI (Debian's ``blender``, legacy add-on path) under Xvfb.

Installs the built zip with the legacy installer, shows the Moodscore tab beside a selected
movie strip, presses Score through the button's operator (``INVOKE_DEFAULT``: the modal path
that polls the engine process from a timer), screenshots the window while the status bar and
the panel show the progress, then undoes the score. Set ``MOODSCORE_UPDATE_SCREENSHOT=1`` to
copy that screenshot to ``docs/addon_panel.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

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

UI_SCRIPT = r"""
import json, sys, time
import bpy

args = json.loads(sys.argv[sys.argv.index("--") + 1])
report = {}
bpy.ops.preferences.addon_install(filepath=args["zip"])
bpy.ops.preferences.addon_enable(module="moodscore")
engine = sys.modules["moodscore.engine"]

bpy.ops.wm.save_as_mainfile(filepath=args["blend"])
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = 25, 1.0
scene.frame_start, scene.frame_end = 1, 150
editor = scene.sequence_editor_create()
strips = editor.strips if hasattr(editor, "strips") else editor.sequences
clip = strips.new_movie("clip.mp4", args["clip"], 2, 1)
clip.frame_offset_start = 25
clip.select = True
editor.active_strip = clip

window = bpy.context.window_manager.windows[0]
area = max(window.screen.areas, key=lambda a: a.width * a.height)
area.type = "SEQUENCE_EDITOR"
space = area.spaces.active
space.view_type = "SEQUENCER"
space.show_region_ui = True
started = time.monotonic()
phase = ["start"]


def window_region():
    return next(r for r in area.regions if r.type == "WINDOW")


def score_strip(name="clip.mp4 · score"):
    # Fetched afresh: undo reloads the data, leaving older Python references dangling.
    editor = bpy.data.scenes[0].sequence_editor
    every = editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all
    return next((s for s in every if s.name == name), None)


def finish(ok):
    report["ok"] = ok
    with open(args["report"], "w") as out:
        json.dump(report, out)
    bpy.ops.wm.quit_blender()


def step():
    try:
        return advance()
    except Exception as exc:  # a dead timer would leave Blender open until the test times out
        report["error"] = f"{type(exc).__name__}: {exc} in phase {phase[0]}"
        finish(False)
        return None


def advance():
    if time.monotonic() - started > 150:
        report["error"] = f"timed out in phase {phase[0]}"
        finish(False)
        return None
    with bpy.context.temp_override(window=window, area=area, region=window_region()):
        if phase[0] == "start":
            # Open the Moodscore tab the way a user can (3.x has no active_panel_category):
            # Ctrl+Shift+Tab over the sidebar steps back from the first tab to the last.
            sidebar = next(r for r in area.regions if r.type == "UI")
            x, y = sidebar.x + sidebar.width // 2, sidebar.y + 30
            window.event_simulate("MOUSEMOVE", "NOTHING", x=x, y=y)
            for value in ("PRESS", "RELEASE"):
                window.event_simulate("TAB", value, x=x, y=y, ctrl=True, shift=True)
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


bpy.app.timers.register(step, first_interval=2.0)
"""


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """Xvfb on a free display (it picks the number and writes it to our pipe)."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        display = pipe.readline().strip()
    if not display:
        server.kill()
        pytest.skip("Xvfb did not start")
    return server, f":{display}"


def test_score_from_the_sidebar_in_real_blender(tmp_path: Path) -> None:
    build = tmp_path / "build"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_addon.py"),
            *("--no-wheels", "--no-validate", "--platforms", "linux-x64", "--kinds", "legacy"),
            *("--out-dir", str(build)),
        ],
        check=True,
        timeout=300,
    )
    (addon_zip,) = build.glob("moodscore-*-legacy-linux_x64.zip")
    clip = write_clip(tmp_path / "clip.mp4", render_frames(dark_to_bright(640, 360), 6.0, 25.0))
    script = tmp_path / "ui.py"
    script.write_text(UI_SCRIPT)
    home = tmp_path / "home"
    home.mkdir()
    paths = {
        "zip": str(addon_zip),
        "clip": str(clip),
        "blend": str(tmp_path / "edit.blend"),
        "png": str(tmp_path / "panel.png"),
        "progress_png": str(tmp_path / "progress.png"),
        "report": str(tmp_path / "report.json"),
    }
    server, display = start_xvfb()
    try:
        env = {
            **os.environ,
            "DISPLAY": display,
            "HOME": str(home),
            "TMPDIR": str(tmp_path),
            # The legacy add-on takes its packages from the environment (never TensorFlow).
            "PYTHONPATH": os.pathsep.join(site.getsitepackages()),
        }
        run = subprocess.run(
            [
                "blender",
                "--factory-startup",
                "--enable-event-simulate",
                "--window-geometry",
                "0",
                "0",
                "1280",
                "800",
                "--python",
                str(script),
                "--",
                json.dumps(paths),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    report_path = Path(paths["report"])
    assert report_path.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["ok"], f"{report}\n{run.stdout[-3000:]}"
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
    assert score["path"] == "//moodscore/clip.mp4/clip.wav"
    assert (tmp_path / "moodscore" / "clip.mp4" / "clip.wav").is_file()
    assert not report["tensorflow_imported"]  # its HDF5 clashes with Blender's
    assert report["undo_removed_strip"] and report["undo_kept_movie"], report
    for png in (Path(paths["png"]), Path(paths["progress_png"])):
        assert png.stat().st_size > 20_000
    if os.environ.get("MOODSCORE_UPDATE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copy(paths["progress_png"], SCREENSHOT)
