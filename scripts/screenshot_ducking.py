"""Screenshot of the add-on's ducking keyframes in the real Blender UI (docs/ducking_keyframes.png).

Writes a clip whose sound track holds real speech (espeak-ng) between cuts, starts Debian's
``blender`` under Xvfb with the repository's add-on, scores the clip from the Moodscore tab with
Auto tempo, beat markers, "Duck under Dialogue" and stems on, and saves the window: the
Sequencer with the score, its stems and the markers above, the Graph Editor with the score
strip's volume keyframes below.

    .venv/bin/python scripts/screenshot_ducking.py [--out docs/ducking_keyframes.png]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

UI_SCRIPT = r"""
import json, sys, traceback
import bpy

args = json.loads(sys.argv[sys.argv.index("--") + 1])
bpy.context.preferences.view.show_splash = False
sys.path.insert(0, args["repo"])
import blender_addon
blender_addon.register()
from blender_addon import compat

report = {}


def score():
    bpy.ops.wm.save_as_mainfile(filepath=args["blend"])
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    scene.frame_start, scene.frame_end = 1, int(args["seconds"] * 25)
    scene.moodscore.generator = "chords"
    aids = scene.moodscore_edit
    aids.tempo_mode, aids.markers, aids.stems = "AUTO", True, True
    aids.duck, aids.duck_db = True, 12.0
    editor = scene.sequence_editor_create()
    clip = compat.strips_in(editor).new_movie("interview.mp4", args["clip"], 1, 1)
    report["status"] = sorted(bpy.ops.moodscore.score_strip(strip="interview.mp4"))
    strip = compat.find_strip(scene, "interview.mp4 · score")
    for other in compat.all_strips(scene):
        other.select = other == strip
    editor.active_strip = strip
    report["markers"] = len(scene.timeline_markers)
    # The Graph Editor shows the score strip's volume keyframes, not the emotion curves.
    for fcurve in scene.animation_data.action.fcurves:
        fcurve.hide = not fcurve.data_path.endswith(".volume")
        fcurve.select = not fcurve.hide


def split():
    window = bpy.context.window_manager.windows[0]
    big = max(window.screen.areas, key=lambda a: a.width * a.height)
    big.type = "SEQUENCE_EDITOR"
    with bpy.context.temp_override(window=window, area=big):
        bpy.ops.screen.area_split(direction="HORIZONTAL", factor=0.4)
    return window, big.x, big.width


def layout(window, x, width):
    # The two halves of the split: the screen's areas are only updated after a redraw.
    column = [a for a in window.screen.areas if a.x == x and a.width == width]
    top, bottom = sorted(column, key=lambda a: a.height, reverse=True)[:2]
    if top.y < bottom.y:
        top, bottom = bottom, top
    top.type, bottom.type = "SEQUENCE_EDITOR", "GRAPH_EDITOR"
    top.spaces.active.view_type = "SEQUENCER"
    top.spaces.active.show_region_ui = True
    return window, top, bottom


def frame(window, top, bottom):
    for area, view in ((top, bpy.ops.sequencer.view_all), (bottom, bpy.ops.graph.view_all)):
        region = next(r for r in area.regions if r.type == "WINDOW")
        with bpy.context.temp_override(window=window, area=area, region=region):
            view()
    sidebar = next(r for r in top.regions if r.type == "UI")
    if hasattr(sidebar, "active_panel_category"):
        sidebar.active_panel_category = "Moodscore"


def guarded(step):
    def run():
        try:
            return step()
        except Exception:
            report["error"] = traceback.format_exc()
            json.dump(report, open(args["report"], "w"))
            bpy.ops.wm.quit_blender()
    return run


state = {}


def first():
    score()
    state["split"] = split()
    bpy.app.timers.register(guarded(second), first_interval=1.0)


def second():
    state["areas"] = layout(*state["split"])
    bpy.app.timers.register(guarded(frame_all), first_interval=1.0)


def frame_all():
    frame(*state["areas"])
    bpy.app.timers.register(guarded(third), first_interval=1.5)


def third():
    with bpy.context.temp_override(window=state["areas"][0]):
        bpy.ops.screen.screenshot(filepath=args["png"])
    json.dump(report, open(args["report"], "w"))
    bpy.ops.wm.quit_blender()


bpy.app.timers.register(guarded(first), first_interval=1.0)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "ducking_keyframes.png")
    args = parser.parse_args()
    from tests.blender_ui_driver import run_blender_ui
    from tests.edit_clips import SENTENCES, dialogue_track, write_clip_with_audio

    seconds = 16.0
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        track, _ = dialogue_track(seconds, [(3.0, SENTENCES[0]), (10.5, SENTENCES[2])], work)
        clip = write_clip_with_audio(
            work / "interview.mp4", seconds, audio=track, cuts_s=(2.4, 7.2, 12.0),
            size=(640, 360),
        )  # fmt: skip
        paths = {
            "repo": str(REPO),
            "clip": str(clip),
            "seconds": seconds,
            "blend": str(work / "edit.blend"),
            "png": str(work / "shot.png"),
            "report": str(work / "report.json"),
        }
        run = run_blender_ui(UI_SCRIPT, paths, work, timeout=120, simulate_events=False)
        if not Path(paths["png"]).exists():
            sys.stderr.write(run.stdout[-4000:] + run.stderr[-4000:])
            return 1
        print(Path(paths["report"]).read_text())
        args.out.parent.mkdir(exist_ok=True)
        shutil.copy(paths["png"], args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
