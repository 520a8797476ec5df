"""Mixed frame rates: strips added the way a user does, scored where Blender shows the picture.

*Add > Movie* turns on *Adjust Playback Rate*, so a 25 fps file in a 30 fps scene plays at its
own speed (25 file frames over 30 scene frames). Clips with hard colour cuts at known file
frames go into 24/25/30 fps scenes through that operator, trimmed at both ends; the frame
where each cut shows is found by rendering the Sequencer (by bisection: a handful of tiny
renders per cut). Against it:

* the matrix (every file rate x scene rate, no engine): the add-on's mapping of file time to
  scene frames, and the score strip, hit markers and curves it places for a score whose cuts
  the engine reports at those file times (the worker's own stretch of the timeline);
* one real engine score per clip, in a scene of another rate: the score strip, the hit
  markers and the music's hit points (the cuts the music was written to) from the engine;
* Debian's Blender 3.4: the matrix in the background, and its real UI under Xvfb (the menu's
  operator, a score, and the saved edit rendered to find the cuts).

In the ``bpy`` module no window has an event, so Blender runs an operator's ``exec`` straight
away for ``INVOKE_DEFAULT``, skipping *Add > Movie*'s ``invoke`` (and ``--enable-event-simulate``
is a command-line flag the module cannot take); that invoke turns ``adjust_playback_rate`` on
and, once the Sequencer holds a strip, ``use_framerate`` and ``set_view_transform`` off
(``sequencer_disable_one_time_properties``). :func:`add_movie` passes exactly those;
``test_add_movie_from_the_menu_in_real_blender`` checks in Blender 3.4's real UI that the
menu's invoke and this call make the same strip.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_addon.core.config import Config  # noqa: E402
from blender_addon.core.timeline import EmotionTimeline, TimeGrid  # noqa: E402

from blender_addon import compat, engine  # noqa: E402
from blender_addon import geometry as geo  # noqa: E402
from blender_addon.operators import edit_aids  # noqa: E402
from blender_addon.operators import strips as strip_ops  # noqa: E402
from blender_addon.properties import AROUSAL_PROP  # noqa: E402
from tests.edit_clips import write_clip_with_audio  # noqa: E402

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent

FILE_FPS = {"23.976": 24000 / 1001, "24": 24.0, "25": 25.0, "29.97": 30000 / 1001, "30": 30.0,
            "50": 50.0, "60": 60.0}  # fmt: skip
SCENE_FPS = (24, 25, 30)
#: One real engine score per clip, each in a scene of another rate.
ENGINE_SCENE = {"23.976": 30, "24": 25, "25": 30, "29.97": 24, "30": 25, "50": 24, "60": 25}
SECONDS = 4.0
#: Colour changes in file seconds; the clips' shots are palette colours 0-3.
CUTS_S = (1.15, 2.05, 3.1)
SIZE = (64, 36)
#: Scene frame of the strip's content start, and how much of its ends the user trims (frames).
START, TRIM_START, TRIM_END = 5, 7, 11
#: Frames beyond one a music hit may sit from the rendered cut. Blender 5.0/5.2 show a file
#: frame one early or late depending on what they decoded before (23.976 fps in a 30 fps
#: scene: the first cut shows at frame 39 after the bisection's seeks, at 41 rendered in order
#: from 37; the hit is at 40.035, where 4.5 shows the cut either way).
HIT_SLACK = 0.05
PALETTE = np.array([[200, 40, 40], [40, 160, 220], [240, 220, 60], [30, 30, 30]], float)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny clip per file rate, cutting at :data:`CUTS_S`."""
    folder = tmp_path_factory.mktemp("fps_clips")
    return {
        name: write_clip_with_audio(
            folder / f"cuts{name}.mp4", SECONDS, fps=fps, cuts_s=CUTS_S, size=SIZE
        )
        for name, fps in FILE_FPS.items()
    }


def cut_frames(fps: float) -> list[int]:
    """First file frame of each new shot, as ``write_clip_with_audio`` draws them."""
    return [math.ceil((cut - 1e-9) * fps) for cut in CUTS_S]


def sequencer_override(scene) -> dict[str, Any]:
    """A Sequencer context for the Sequencer's operators in a window-less ``bpy``.

    No region: with the timeline's region, *Add > Movie* in 5.x starts moving the new strip
    under the mouse (``move_strips``), which crashes without a drawn window.
    """
    window = bpy.context.window_manager.windows[0]
    if hasattr(window.workspace, "sequencer_scene"):  # 5.x: the Sequencer's own scene
        window.workspace.sequencer_scene = scene
    area = window.screen.areas[0]
    area.type = "SEQUENCE_EDITOR"
    return {"window": window, "area": area, "scene": scene}


def new_scene(scene_fps: int):
    """An empty scene holding one muted strip already, as an edit in progress does."""
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = scene_fps, 1.0
    scene.render.resolution_x, scene.render.resolution_y = SIZE
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.view_settings.view_transform = "Standard"  # the palette's colours as they are
    scene.moodscore.generator = "chords"
    scene.sequence_editor_create()
    strips = compat.strips_in(scene.sequence_editor)
    try:
        title = strips.new_effect("title", "COLOR", 1, frame_start=1, length=10)
    except TypeError:  # before 5.0: an end frame
        title = strips.new_effect("title", "COLOR", 1, frame_start=1, frame_end=11)
    title.mute = True
    return scene


def add_movie(scene, path: Path, frame_start: int, channel: int = 2):
    """*Add > Movie* as its invoke leaves the operator (see the module docstring)."""
    before = {strip.name for strip in compat.all_strips(scene)}
    with bpy.context.temp_override(**sequencer_override(scene)):
        result = bpy.ops.sequencer.movie_strip_add(
            filepath=str(path),
            frame_start=frame_start,
            channel=channel,
            adjust_playback_rate=True,
            use_framerate=False,
            set_view_transform=False,
        )
    assert result == {"FINISHED"}
    (strip,) = [s for s in compat.all_strips(scene) if s.name not in before]
    return strip


def trim(strip) -> None:
    """Drag both handles inwards, as an editor does."""
    left = compat.strip_timing(strip, "left_handle")
    right = compat.strip_timing(strip, "right_handle")
    compat.set_strip_timing(strip, "left_handle", left + TRIM_START)
    compat.set_strip_timing(strip, "right_handle", right - TRIM_END)


def visible(strip) -> tuple[int, int]:
    """First and last visible frame of ``strip``."""
    left, right = (compat.strip_timing(strip, name) for name in ("left_handle", "right_handle"))
    return left, right - 1


def shot_at(scene, frame: int, folder: Path) -> int:
    """The shot (palette index) the Sequencer renders at ``frame``."""
    scene.frame_set(frame)
    path = folder / "frame.png"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    image = bpy.data.images.load(str(path))
    try:
        width, height = image.size
        pixels = np.array(image.pixels[:]).reshape(height, width, 4)
    finally:
        bpy.data.images.remove(image)
    rgb = pixels[height // 4, 3 * width // 4, :3] * 255  # rows go up: the lower right
    return int(np.argmin(np.abs(PALETTE - rgb).sum(axis=1)))


def rendered_cuts(scene, first: int, last: int, folder: Path) -> list[int]:
    """Scene frame in ``first..last`` where each shot after the first first shows (bisection)."""
    shots = {first: shot_at(scene, first, folder), last: shot_at(scene, last, folder)}
    found = []
    for shot in range(shots[first] + 1, shots[last] + 1):
        low, high = first, last  # shows an earlier shot at low, this one or later at high
        while high - low > 1:
            middle = (low + high) // 2
            if middle not in shots:
                shots[middle] = shot_at(scene, middle, folder)
            low, high = (low, middle) if shots[middle] >= shot else (middle, high)
        found.append(high)
    return found


@dataclass
class Placed:
    """What the add-on placed for one strip, in scene frames."""

    score_start: int
    score_end: int
    markers: list[int]
    music_hits: list[float]
    first_key: float
    curves_end: float


def placed(scene, score) -> Placed:
    """Read back the score strip, its hit markers, its cuts and its curve keys."""
    info = score.moodscore
    start, fps = compat.strip_timing(score, "content_start"), geo.scene_fps(scene)
    keys = compat.find_fcurve(scene, score.path_from_id(AROUSAL_PROP)).keyframe_points
    return Placed(
        score_start=compat.strip_timing(score, "left_handle"),
        score_end=compat.strip_timing(score, "right_handle"),
        markers=sorted(m.frame for m in scene.timeline_markers if m.name.startswith("hit ")),
        music_hits=[start + cut * fps for cut in strip_ops.stored_cuts(score)],
        first_key=keys[0].co[0],
        curves_end=start + info.duration_s * fps,
    )


def assert_within_a_frame(where: Placed, strip, cuts: list[int]) -> dict[str, float]:
    """Everything placed lands within one frame of the picture; returns the largest errors."""
    first = compat.strip_timing(strip, "left_handle")
    last = compat.strip_timing(strip, "right_handle")
    errors = {
        "start": abs(where.score_start - first),
        "end": abs(where.score_end - last),
        "markers": max(abs(a - b) for a, b in zip(where.markers, cuts, strict=True)),
        "hits": max(abs(a - b) for a, b in zip(where.music_hits, cuts, strict=True)),
        "curves": max(abs(where.first_key - first), abs(where.curves_end - last)),
    }
    assert len(where.markers) == len(cuts), (where.markers, cuts)
    assert all(error <= 1.0 + HIT_SLACK for error in errors.values()), (errors, where, cuts)
    return errors


def silent_wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * round(seconds * rate))
    return path


def place_as_the_engine_would(scene, strip, span: geo.StripSpan, folder: Path):
    """Place a score for ``span`` whose cuts the engine found at the clip's known file frames.

    The timeline is what ``engine_worker.score_request`` returns: file time from ``start_s``,
    stretched onto edit time when the span asks for it.
    """
    cuts = [frame / span.file_fps - span.file_start_s for frame in cut_frames(span.file_fps)]
    grid = TimeGrid()
    file_s = span.file_end_s - span.file_start_s
    count = max(1, grid.step_count(file_s))
    timeline = EmotionTimeline.from_values(
        np.full(count, 0.5), np.full(count, 0.5), grid=grid, duration_s=file_s,
        cuts_s=tuple(c for c in cuts if 0 <= c < file_s),
    )  # fmt: skip
    if span.needs_stretch:
        timeline = timeline.stretched(span.edit_duration_s)
    request = engine.ScoreRequest(
        key=strip.name, video=span.video, out_dir=folder / "score", stem="clip",
        config=Config(), start_s=span.file_start_s, end_s=span.file_end_s,
    )  # fmt: skip
    request.out_dir.mkdir(parents=True, exist_ok=True)
    wav = silent_wav(request.out_dir / "clip.wav", timeline.duration_s)
    outcome = engine.ScoreOutcome(request=request, outputs={}, timeline=timeline)
    score = strip_ops.place_score_strip(scene, strip, span, outcome, {"wav": wav})
    edit_aids.add_markers(
        scene, score, grid.bpm, timeline.duration_s, timeline.cuts_s, rate=span.rate
    )
    return score


@pytest.mark.parametrize("scene_fps", SCENE_FPS)
@pytest.mark.parametrize("file_rate", FILE_FPS)
def test_mapping_and_placement_follow_the_rendered_picture(
    addon, clips, tmp_path: Path, file_rate: str, scene_fps: int
) -> None:
    scene = new_scene(scene_fps)
    strip = add_movie(scene, clips[file_rate], START)
    trim(strip)
    span = geo.strip_span(scene, strip)
    cuts = rendered_cuts(scene, *visible(strip), tmp_path)

    file_fps = FILE_FPS[file_rate]
    assert span.file_fps == pytest.approx(file_fps, rel=1e-4)
    # Adjust Playback Rate: the file plays at its own speed, so nothing is stretched.
    assert span.rate == pytest.approx(file_fps / scene_fps, rel=1e-4)
    assert not span.needs_stretch
    assert span.file_start_s == pytest.approx(TRIM_START / scene_fps, abs=1e-6)
    assert span.file_end_s - span.file_start_s == pytest.approx(span.edit_duration_s)
    # Blender shows the file frame nearest the mapped moment, so a cut's first frame shows
    # from half a file frame before the cut's moment (5.2 once a frame earlier: 23.976 in 30).
    mapped = [span.frame_at(frame / file_fps) for frame in cut_frames(file_fps)]
    showing = [geo.frame_showing(at, span.rate) for at in mapped]
    assert len(cuts) == len(showing)
    assert all(abs(a - b) <= 1 for a, b in zip(cuts, showing, strict=True)), (cuts, mapped)
    score = place_as_the_engine_would(scene, strip, span, tmp_path)
    errors = assert_within_a_frame(placed(scene, score), strip, cuts)
    print(f"\nFPS-MATRIX {file_rate} -> {scene_fps}: {json.dumps(errors)}")


def test_a_strip_added_by_script_keeps_frame_for_frame(addon, clips, tmp_path: Path) -> None:
    """``strips.new_movie`` does not adjust the rate: the file plays faster, the music stretches."""
    scene = new_scene(30)
    strip = compat.strips_in(scene.sequence_editor).new_movie("cuts", str(clips["25"]), 2, START)
    trim(strip)
    span = geo.strip_span(scene, strip)
    assert span.rate == 1.0 and span.needs_stretch
    assert span.file_start_s == pytest.approx(TRIM_START / 25)
    cuts = rendered_cuts(scene, *visible(strip), tmp_path)
    assert [round(span.frame_at(f / 25)) for f in cut_frames(25.0)] == cuts
    assert_within_a_frame(
        placed(scene, place_as_the_engine_would(scene, strip, span, tmp_path)), strip, cuts
    )


def test_the_issue_example_reads_the_strip_as_blender_shows_it(addon) -> None:
    """Issue 17: ``demo.mp4`` (25 fps, cuts at 6/12/18 s) from the menu into a 30 fps edit,
    30 frames trimmed at the start and 150 at the end: the panel said 1.20-22.80 s of the file
    and the hits landed on 151/301/451, where the picture cuts at 181/361/541."""
    scene = new_scene(30)
    strip = add_movie(scene, REPO / "examples" / "demo.mp4", 1)
    compat.set_strip_timing(strip, "left_handle", 31)
    compat.set_strip_timing(strip, "right_handle", compat.strip_timing(strip, "right_handle") - 150)
    span = geo.strip_span(scene, strip)
    assert (span.file_start_s, span.file_end_s) == (pytest.approx(1.0), pytest.approx(19.0))
    assert [geo.frame_showing(span.frame_at(cut), span.rate) for cut in (6, 12, 18)] == [
        181,
        361,
        541,
    ]


@pytest.mark.parametrize("file_rate", ["25", "60"])
def test_content_trimmed_inside_the_strip(addon, clips, tmp_path: Path, file_rate: str) -> None:
    """Source frames cut off inside the strip (``animation_offset_*``, 5.2's ``content_trim_*``)
    shift the file span, whatever the handles do."""
    scene = new_scene(30)
    strip = add_movie(scene, clips[file_rate], START)
    compat.set_strip_timing(strip, "content_trim_start", 10)
    compat.set_strip_timing(strip, "content_trim_end", 6)
    trim(strip)
    span = geo.strip_span(scene, strip)
    file_fps = FILE_FPS[file_rate]
    assert span.rate == pytest.approx(file_fps / 30)
    assert span.file_start_s == pytest.approx((10 + TRIM_START * span.rate) / file_fps)
    cuts = rendered_cuts(scene, *visible(strip), tmp_path)
    mapped = [
        geo.frame_showing(span.frame_at(f / file_fps), span.rate) for f in cut_frames(file_fps)
    ]
    shown = [m for m in mapped if visible(strip)[0] < m <= visible(strip)[1]]
    assert len(cuts) == len(shown)
    assert all(abs(a - b) <= 1 for a, b in zip(cuts, shown, strict=True)), (cuts, mapped)


def test_speed_factor_of_blender_3(addon, clips, tmp_path: Path) -> None:
    """3.x's Speed Factor (Time panel) multiplies the rate: twice as fast, half the music."""
    scene = new_scene(30)
    strip = add_movie(scene, clips["25"], START)
    if not hasattr(strip, "speed_factor"):
        pytest.skip("Speed Factor is 3.x-4.1; retiming keys replaced it")
    strip.speed_factor = 2.0
    trim(strip)
    span = geo.strip_span(scene, strip)
    assert span.rate == pytest.approx(2 * 25 / 30)
    assert span.needs_stretch  # the file plays faster than its own speed
    cuts = rendered_cuts(scene, *visible(strip), tmp_path)
    mapped = [geo.frame_showing(span.frame_at(f / 25), span.rate) for f in cut_frames(25.0)]
    assert all(abs(a - b) <= 1 for a, b in zip(cuts, mapped, strict=True)), (cuts, mapped)
    assert_within_a_frame(
        placed(scene, place_as_the_engine_would(scene, strip, span, tmp_path)), strip, cuts
    )


@dataclass
class RetimedStrip:
    """The RNA a retimed 4.2+ movie strip shows :func:`geometry.playback_rate` (no crash-prone
    retiming edits in the window-less module): content from ``frame_start``, keys at its ends."""

    keys: list[int]
    filepath: str = ""
    name: str = "retimed"
    type: str = "MOVIE"
    fps: float = 25.0
    id_data: Any = None  # not linked from a library: see __post_init__
    frame_start: float = 5.0
    frame_offset_end: float = 0.0
    animation_offset_start: int = 0
    animation_offset_end: int = 0

    def __post_init__(self) -> None:
        self.id_data = SimpleNamespace(library=None)

    @property
    def retiming_keys(self) -> list[Any]:
        return [SimpleNamespace(timeline_frame=frame) for frame in self.keys]

    @property
    def frame_final_end(self) -> int:
        return self.keys[-1] + 1

    @property
    def frame_duration(self) -> int:  # 4.2+: the content's timeline length
        return self.frame_final_end - int(self.frame_start)

    @property
    def bl_rna(self) -> Any:
        names = ("frame_start", "frame_final_end", "frame_duration", "frame_offset_end",
                 "animation_offset_start", "animation_offset_end")  # fmt: skip
        return SimpleNamespace(properties=dict.fromkeys(names))


@pytest.mark.parametrize(
    ("last_key", "rate"), [(104, 1.0), (54, 99 / 49), (204, 99 / 199), (124, 99 / 119)]
)
def test_two_retiming_keys_set_one_speed(clips, last_key: int, rate: float) -> None:
    """Blender maps the first and last source frame (0 and 99 of 100) onto the two keys."""
    strip = RetimedStrip(keys=[5, last_key])
    assert geo.playback_rate(strip, 25.0, 30.0, clips["25"]) == pytest.approx(rate)


def test_retiming_keys_inside_a_strip_are_refused_in_one_sentence(clips) -> None:
    """A key between the ends may change the speed there, which the API does not show."""
    strip = RetimedStrip(keys=[5, 40, 104], filepath=str(clips["25"]))
    with pytest.raises(geo.StripError, match=r"retiming keys inside it.*Reset Retiming") as caught:
        geo.strip_span(bpy.context.scene, strip)
    assert str(caught.value).count(". ") == 0  # one sentence


@pytest.fixture(scope="module")
def saved_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fps_scored")


@pytest.mark.parametrize("file_rate", FILE_FPS)
def test_engine_score_lands_on_the_rendered_cuts(
    addon, clips, saved_folder: Path, file_rate: str
) -> None:
    """The real engine on each clip, in a scene of another rate, with beat markers on."""
    scene_fps = ENGINE_SCENE[file_rate]
    scene = new_scene(scene_fps)
    scene.moodscore_edit.markers = True
    folder = saved_folder / file_rate
    folder.mkdir()
    shutil.copy(clips[file_rate], folder / "cuts.mp4")
    bpy.ops.wm.save_as_mainfile(filepath=str(folder / "edit.blend"))
    strip = add_movie(scene, folder / "cuts.mp4", START)
    trim(strip)
    cuts = rendered_cuts(scene, *visible(strip), folder)

    assert bpy.ops.moodscore.score_strip(strip=strip.name) == {"FINISHED"}

    score = compat.find_strip(scene, strip.name + geo.SCORE_SUFFIX)
    errors = assert_within_a_frame(placed(scene, score), strip, cuts)
    span = geo.strip_span(scene, strip)  # the part of the file the engine was given
    assert score.moodscore.start_s == pytest.approx(span.file_start_s, abs=1e-3)
    assert score.moodscore.end_s == pytest.approx(span.file_end_s, abs=1e-3)
    assert score.moodscore.duration_s == pytest.approx(span.edit_duration_s, abs=1e-3)
    print(f"\nFPS-ENGINE {file_rate} -> {scene_fps}: {json.dumps(errors)}")


@pytest.mark.blender
@pytest.mark.skipif(shutil.which("blender") is None, reason="needs the blender binary")
def test_the_matrix_in_blender_34() -> None:
    """The window-less tests above, run by Debian's Blender 3.4 in the background (its Python
    takes this environment's packages), where Speed Factor and the raw frame count exist."""
    import os
    import site

    selection = "mapping or script or issue or retiming or speed_factor or content_trimmed"
    code = (
        "import sys, pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', "
        f"'-m', 'not blender', '-k', {selection!r}, {str(Path(__file__))!r}]))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*site.getsitepackages(), str(REPO)])}
    run = subprocess.run(
        ["blender", "-b", "--factory-startup", "--python-expr", code],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    tail = run.stdout[-3000:] + run.stderr[-2000:]
    assert run.returncode == 0 and " passed" in run.stdout and "failed" not in run.stdout, tail


GUI_STEPS = r"""
# Runs after SEQUENCER_UI (tests/blender_ui_driver.py), which defines args, engine and helpers.
report = {}
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = 30, 1.0
scene.render.resolution_x, scene.render.resolution_y = args["size"]
scene.render.resolution_percentage = 100
scene.render.image_settings.file_format = "PNG"
scene.view_settings.view_transform = "Standard"
scene.frame_current = args["start"]  # where 3.4's invoke puts a new strip
scene.moodscore_edit.markers = True
editor = scene.sequence_editor_create()
strips = editor.strips if hasattr(editor, "strips") else editor.sequences
title = strips.new_effect("title", "COLOR", 1, frame_start=1, frame_end=11)
title.mute, title.select = True, False
window, area = sequencer_with_sidebar()
started = time.monotonic()
phase = ["add"]


def timing(strip):
    return [strip.frame_start, strip.frame_final_start, strip.frame_final_end,
            strip.frame_duration, strip.frame_final_duration, round(strip.fps, 4)]


def advance():
    if time.monotonic() - started > 150:
        fail("timed out")
        return None
    with bpy.context.temp_override(window=window, area=area, region=window_region(area)):
        if phase[0] == "add":
            # Add > Movie with a file chosen: the invoke sets the properties, as before the
            # file browser opens (a drag and drop takes this same path).
            report["invoke"] = sorted(bpy.ops.sequencer.movie_strip_add(
                "INVOKE_DEFAULT", filepath=args["clip"], frame_start=args["start"], channel=2))
            report["fps_after_menu"] = scene.render.fps / scene.render.fps_base
            menu = next(s for s in strips if s.type == "MOVIE")
            report["menu"] = timing(menu)
            # What add_movie() in tests/test_addon_fps.py passes in the window-less module.
            bpy.ops.sequencer.movie_strip_add(
                filepath=args["clip"], frame_start=args["start"], channel=4,
                adjust_playback_rate=True, use_framerate=False, set_view_transform=False)
            scripted = next(s for s in strips if s.type == "MOVIE" and s != menu)
            report["module_way"] = timing(scripted)
            strips.remove(scripted)
            menu.frame_final_start += args["trim"][0]
            menu.frame_final_end -= args["trim"][1]
            for strip in strips:
                strip.select = strip == menu
            editor.active_strip = menu
            report["visible"] = [menu.frame_final_start, menu.frame_final_end - 1]
            phase[0] = "score"
            return 0.5
        if phase[0] == "score":
            report["score_invoke"] = sorted(bpy.ops.moodscore.score_strip("INVOKE_DEFAULT"))
            phase[0] = "running"
            return 0.1
        if phase[0] == "running":
            if engine.active_job() is not None:
                return 0.1
            score = next((s for s in every_strip(editor) if s.name.endswith(" · score")), None)
            if score is None:
                fail("the job ended without a score strip")
                return None
            report["score"] = [score.frame_final_start, score.frame_final_end]
            report["markers"] = sorted(
                m.frame for m in scene.timeline_markers if m.name.startswith("hit "))
            report["hits"] = [score.frame_start + float(c) * 30
                              for c in score.moodscore.cuts.split(",") if c]
            bpy.ops.wm.save_mainfile()  # for the background render of the picture
            finish(True)
            return None


bpy.app.timers.register(guarded(advance, fail), first_interval=1.0)
"""

#: Blender-side script rendering the saved edit's cuts in the background (3.4's own renderer).
RENDER_CUTS = """
import json, sys
from pathlib import Path
import bpy
import numpy as np

args = json.loads(sys.argv[sys.argv.index("--") + 1])
PALETTE = np.array(args["palette"], float)
{functions}
scene = bpy.context.scene
cuts = rendered_cuts(scene, *args["visible"], Path(args["folder"]))
Path(args["out"]).write_text(json.dumps(cuts))
"""


@pytest.mark.blender
@pytest.mark.skipif(
    shutil.which("blender") is None or shutil.which("Xvfb") is None,
    reason="needs the blender binary and Xvfb",
)
def test_add_movie_from_the_menu_in_real_blender(clips, tmp_path: Path) -> None:
    """Blender 3.4's real UI: a 25 fps clip through *Add > Movie* into a 30 fps edit, scored."""
    from tests.blender_ui_driver import build_legacy_zip, run_ui_steps

    addon_zip = build_legacy_zip(tmp_path / "build")
    shutil.copy(clips["25"], tmp_path / "cuts.mp4")
    paths = {
        "zip": str(addon_zip),
        "clip": str(tmp_path / "cuts.mp4"),
        "blend": str(tmp_path / "edit.blend"),
        "report": str(tmp_path / "report.json"),
        "size": SIZE,
        "start": START,
        "trim": [TRIM_START, TRIM_END],
    }
    _, report = run_ui_steps(GUI_STEPS, paths, tmp_path)
    assert report["invoke"] == ["FINISHED"] and report["score_invoke"] == ["RUNNING_MODAL"]
    assert report["fps_after_menu"] == 30  # the edit held a strip: its rate stays
    # The window-less tests' call makes the strip the menu makes: stretched to 30 fps.
    assert report["module_way"] == report["menu"]
    assert report["menu"][4] == round(SECONDS * 30)

    cuts = render_in_blender_34(tmp_path, report["visible"])
    first, last = report["visible"]
    assert report["score"] == [first, last + 1]
    assert len(report["markers"]) == len(cuts) == len(CUTS_S)
    assert report["markers"] == cuts, (report, cuts)  # the frame each cut first shows
    assert all(abs(a - b) <= 1 for a, b in zip(report["hits"], cuts, strict=True)), (
        report,
        cuts,
    )
    print(f"\nFPS-GUI34 25 -> 30: picture {cuts}, markers {report['markers']}, "
          f"hits {report['hits']}, score {report['score']}")  # fmt: skip


def render_in_blender_34(folder: Path, visible: list[int]) -> list[int]:
    """The saved edit's cuts as Debian's Blender renders them (in the background)."""
    import inspect
    import os
    import site

    script = folder / "render_cuts.py"
    functions = inspect.getsource(shot_at) + "\n\n" + inspect.getsource(rendered_cuts)
    script.write_text(RENDER_CUTS.replace("{functions}", functions), encoding="utf-8")
    out = folder / "cuts.json"
    args = {"palette": PALETTE.tolist(), "visible": visible, "folder": str(folder),
            "out": str(out)}  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(site.getsitepackages())}
    run = subprocess.run(
        ["blender", "-b", str(folder / "edit.blend"), "--python", str(script), "--",
         json.dumps(args)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.exists(), run.stdout[-2000:] + run.stderr[-2000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize(
    ("strip_name", "stem"),
    [("con.mp4", "_con"), ("NUL", "_NUL"), ("com1.final.mov", "_com1.final"),
     ("console.mp4", "console"), ("a:b?.mp4", "a_b_")],
)  # fmt: skip
def test_score_file_names_avoid_windows_device_names(strip_name: str, stem: str) -> None:
    assert geo.file_stem(strip_name) == stem
    assert geo.safe_name(strip_name).split(".")[0].upper() not in {"CON", "NUL", "COM1"}
