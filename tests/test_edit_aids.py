"""The add-on's editor aids with the real ``bpy``: markers, ducking keyframes, stems, Auto tempo.

One clip with cuts on the bars of 100 bpm and a spoken line is scored through the operator, as
the sidebar's button does; then undo must take the score and everything it added away.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from blender_addon import compat  # noqa: E402
from tests.edit_clips import SENTENCES, dialogue_track, write_clip_with_audio  # noqa: E402

pytestmark = pytest.mark.slow
FPS = 25
SECONDS = 12.0
#: 100 bpm: a bar is 2.4 s (60 frames), so these cuts fall on bars 2, 3 and 4.
CUTS_S = (2.4, 4.8, 7.2)
SPEECH_AT = 5.0
DUCK_DB = 12.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("aids")
    track, _ = dialogue_track(SECONDS, [(SPEECH_AT, SENTENCES[2])], folder)
    return write_clip_with_audio(folder / "talk.mp4", SECONDS, fps=FPS, audio=track, cuts_s=CUTS_S)


@pytest.fixture(scope="module")
def scored(addon, clip: Path, tmp_path_factory: pytest.TempPathFactory):
    """A saved scene with the clip on channel 1 from frame 1, scored with every aid on.

    Shared by the tests below; the undo test comes last, as it takes the score away.
    """
    tmp_path = tmp_path_factory.mktemp("edit")
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    scene.moodscore.generator = "chords"
    aids = scene.moodscore_edit
    aids.tempo_mode, aids.markers, aids.stems = "AUTO", True, True
    aids.duck, aids.duck_db, aids.duck_fade_ms = True, DUCK_DB, 250.0
    shutil.copy(clip, tmp_path / "talk.mp4")
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "edit.blend"))
    scene.sequence_editor_create()
    bpy.ops.ed.undo_push(message="Start")  # undo needs a step before the one it undoes
    compat.strips_in(scene.sequence_editor).new_movie("talk", "//talk.mp4", 1, 1)
    bpy.ops.ed.undo_push(message="Add the clip")
    assert bpy.ops.moodscore.score_strip(strip="talk") == {"FINISHED"}
    # What Blender does when the sidebar button's operator (an UNDO operator) finishes; from
    # a script in background mode it pushes no step of its own.
    bpy.ops.ed.undo_push(message="Score Selected Strip")
    return bpy.context.scene


def _score(scene):
    return compat.find_strip(scene, "talk · score")


def test_auto_tempo_puts_the_cuts_on_bars(scored) -> None:
    assert _score(scored).moodscore.bpm == pytest.approx(100.0, abs=0.05)


def test_markers_at_bar_starts_and_hits(scored) -> None:
    markers = {m.name: m.frame for m in scored.timeline_markers}
    bars = math.ceil(SECONDS / 2.4 - 1e-9)
    assert {f"bar {n}" for n in range(1, bars + 1)} <= set(markers)
    assert markers["bar 1"] == 1 and markers["bar 2"] == 1 + 60
    for cut in CUTS_S:
        assert markers[f"hit {cut:.2f} s"] == 1 + round(cut * FPS)
    assert len(markers) == bars + len(CUTS_S)


def test_ducking_is_editable_volume_keyframes_on_the_score(scored) -> None:
    score = _score(scored)
    fcurve = compat.find_fcurve(scored, score.path_from_id("volume"))
    assert fcurve is not None and len(fcurve.keyframe_points) >= 4
    low = 10 ** (-DUCK_DB / 20)
    at = lambda seconds: fcurve.evaluate(1 + seconds * FPS)  # noqa: E731
    assert at(1.0) == pytest.approx(1.0)
    assert at(SPEECH_AT + 1.5) == pytest.approx(low, abs=1e-3)
    assert at(SECONDS - 0.5) == pytest.approx(1.0)


def test_stems_sit_muted_on_the_channels_above(scored) -> None:
    score = _score(scored)
    stems = [s for s in compat.all_strips(scored) if s.name.startswith("talk · score · ")]
    assert len(stems) >= 3
    assert sorted(s.channel for s in stems) == list(
        range(score.channel + 1, score.channel + 1 + len(stems))
    )
    for stem in stems:
        assert stem.type == "SOUND" and stem.mute
        assert compat.strip_timing(stem, "left_handle") == compat.strip_timing(score, "left_handle")
        assert Path(bpy.path.abspath(stem.sound.filepath)).is_file()


def test_undo_removes_the_score_with_its_markers_and_stems(scored) -> None:
    bpy.ops.ed.undo()
    scene = bpy.context.scene  # undo reloads the data
    assert compat.find_strip(scene, "talk") is not None
    assert _score(scene) is None
    assert not [s for s in compat.all_strips(scene) if "score" in s.name]
    assert len(scene.timeline_markers) == 0


def test_ducking_keys_follow_a_part_played_at_the_scene_rate(addon, clip: Path, tmp_path: Path):
    """A 25 fps clip in a 24 fps scene keeps its frames: speech found in file time is keyed at
    the frames where it is heard, not at its file seconds."""
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.0
    scene.moodscore.generator = "chords"
    scene.moodscore_edit.duck = True
    shutil.copy(clip, tmp_path / "talk.mp4")
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "edit.blend"))
    scene.sequence_editor_create()
    compat.strips_in(scene.sequence_editor).new_movie("talk", "//talk.mp4", 1, 1)
    assert bpy.ops.moodscore.score_strip(strip="talk") == {"FINISHED"}
    score = _score(scene)
    manifest = json.loads((tmp_path / "moodscore" / "talk" / "v1" / "score.json").read_text())
    ducked_from_s = manifest["edit"]["ducking"]["ducked"][0][0]  # seconds of the file
    points = compat.find_fcurve(scene, score.path_from_id("volume")).keyframe_points
    first_low = next(p.co[0] for p in points if p.co[1] < 0.5)
    assert first_low == pytest.approx(1 + ducked_from_s * FPS, abs=1.0)  # the clip's own frames
