"""The Blender add-on with the real ``bpy`` module: strip geometry, scoring, cancel, re-score.

``bpy.app.background`` is set in the module, so the operators run synchronously through the
same job code the modal UI path runs in a thread.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import wave
from pathlib import Path

import mido
import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_addon import compat, engine  # noqa: E402
from blender_addon.properties import AROUSAL_PROP, VALENCE_PROP  # noqa: E402
from tests.clips import dark_to_bright, render_frames, write_clip  # noqa: E402

pytestmark = pytest.mark.slow
ADDON = "blender_addon"


@pytest.fixture(scope="module")
def clip25(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s at 25 fps, 160x90: dark and still for 4 s, then bright, colourful and moving."""
    path = tmp_path_factory.mktemp("clips") / "clip25.mp4"
    return write_clip(path, render_frames(dark_to_bright(160, 90), 8.0, 25.0), 25.0)


@pytest.fixture(scope="module")
def addon():
    import addon_utils

    addon_utils.enable(ADDON, default_set=True)
    yield bpy.context.preferences.addons[ADDON].preferences
    addon_utils.disable(ADDON, default_set=True)


@pytest.fixture
def edit(addon, tmp_path: Path, clip25: Path):
    """A fresh scene saved as ``tmp_path/edit.blend`` with the clip beside it."""
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    scene.moodscore.generator = "chords"
    shutil.copy(clip25, tmp_path / "clip.mp4")
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "edit.blend"))
    scene.sequence_editor_create()
    return scene


def add_movie(scene, name: str, channel: int, frame_start: int, path: str = "//clip.mp4"):
    return compat.strips_in(scene.sequence_editor).new_movie(name, path, channel, frame_start)


def score_strip_of(scene, name: str):
    return compat.find_strip(scene, f"{name} · score")


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as reader:
        return reader.getnframes() / reader.getframerate()


def add_colour_strip(scene, name: str, *, channel: int, start: int, frames: int):
    """A colour strip; Blender 5.0 takes its length where 4.x took an end frame."""
    strips = compat.strips_in(scene.sequence_editor)
    try:
        return strips.new_effect(name, "COLOR", channel, frame_start=start, length=frames)
    except TypeError:
        return strips.new_effect(
            name, "COLOR", channel, frame_start=start, frame_end=start + frames
        )


def test_trimmed_strip_before_frame_one_in_a_24fps_scene(edit, tmp_path: Path) -> None:
    scene = edit
    scene.render.fps = 24  # the 25 fps clip keeps its 200 frames
    strip = add_movie(scene, "clip", 2, -20)
    strip.frame_offset_start, strip.frame_offset_end = 30, 20  # visible: frames 10-159
    blocker = add_colour_strip(scene, "blocker", channel=3, start=100, frames=20)

    assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}

    score = score_strip_of(scene, "clip")
    assert score is not None and score.type == "SOUND"
    assert score.frame_final_start == 10
    assert score.channel == blocker.channel + 1  # channel 3 is busy over frames 100-120
    assert abs(score.frame_final_duration - 150) <= 1
    assert score.sound.filepath == "//moodscore/clip/clip.wav"
    wav = tmp_path / "moodscore" / "clip" / "clip.wav"
    assert abs(wav_seconds(wav) - 150 / 24) <= 1 / 24  # edit time, not file time (6.0 s)
    manifest = json.loads((wav.parent / "score.json").read_text())
    assert manifest["inputs"]["start_s"] == pytest.approx(30 / 25)
    assert manifest["inputs"]["end_s"] == pytest.approx(180 / 25)
    steps = manifest["grid"]["steps"]
    for prop in (AROUSAL_PROP, VALENCE_PROP):
        fcurve = compat.find_fcurve(scene, score.path_from_id(prop))
        assert len(fcurve.keyframe_points) == steps
        assert fcurve.keyframe_points[0].co[0] == pytest.approx(10)


def test_relative_path_same_fps_and_refused_strips(edit, tmp_path: Path) -> None:
    scene = edit
    strip = add_movie(scene, "clip", 1, -40)
    strip.frame_offset_start = 10  # visible from frame -30 to the clip's end (frame 159)
    image = tmp_path / "still.png"
    pixels = bpy.data.images.new("still", 8, 8)
    pixels.save(filepath=str(image))
    compat.strips_in(scene.sequence_editor).new_image("stills", str(image), 3, 1)

    with pytest.raises(RuntimeError, match="image sequence"):
        bpy.ops.moodscore.score_strip(strip="stills")
    assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}

    score = score_strip_of(scene, "clip")
    assert (score.frame_final_start, score.channel) == (-30, 2)
    assert abs(score.frame_final_duration - 190) <= 1
    assert score_strip_of(scene, "stills") is None


def test_second_strip_of_same_name_never_overwrites(edit, tmp_path: Path) -> None:
    scene = edit
    add_movie(scene, "clip", 1, 1)
    assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}
    first = files_under(tmp_path / "moodscore" / "clip")
    stamps = [p.stat().st_mtime_ns for p in first]
    # Another scene, a strip with the same name: a folder of its own.
    other = bpy.data.scenes.new("Other")
    other.sequence_editor_create()
    add_movie(other, "clip", 1, 1)
    with bpy.context.temp_override(scene=other):
        assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}
    assert [p.stat().st_mtime_ns for p in first] == stamps
    assert score_strip_of(other, "clip").sound.filepath == "//moodscore/clip-2/clip.wav"


def test_cancel_midway_leaves_no_strip_and_no_file(edit, tmp_path: Path) -> None:
    scene = edit
    add_movie(scene, "clip", 1, 1)
    seen_progress = threading.Event()

    def cancel_once_running() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            job = engine.active_job()
            if job is not None and job.fraction > 0.0:
                seen_progress.set()
                engine.cancel_active()  # what moodscore.cancel and Esc do
                return
            time.sleep(0.002)

    canceller = threading.Thread(target=cancel_once_running)
    canceller.start()
    result = bpy.ops.moodscore.score_strip(strip="clip")
    canceller.join()

    assert seen_progress.is_set()
    assert result == {"CANCELLED"}
    assert score_strip_of(scene, "clip") is None
    assert files_under(tmp_path / "moodscore") == []
    assert engine.active_job() is None


def midi_notes(path: Path) -> list[tuple[float, int]]:
    """(start second, pitch) of every note."""
    notes, now = [], 0.0
    for message in mido.MidiFile(str(path)):
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            notes.append((round(now, 3), message.note))
    return sorted(notes)


def test_rescore_from_edited_curves_changes_music_where_curves_changed(
    edit, tmp_path: Path
) -> None:
    scene = edit
    add_movie(scene, "clip", 1, 1)
    assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}
    score = score_strip_of(scene, "clip")
    midi = tmp_path / "moodscore" / "clip" / "clip.mid"
    before = midi_notes(midi)
    step_s = 240.0 / score.moodscore.bpm
    # Drag the curves of the last two of four steps to calm and sad.
    fps = scene.render.fps
    for prop, value in ((AROUSAL_PROP, 0.0), (VALENCE_PROP, 0.0)):
        fcurve = compat.find_fcurve(scene, score.path_from_id(prop))
        for point in fcurve.keyframe_points:
            if point.co[0] >= score.frame_start + 2 * step_s * fps - 0.5:
                point.co[1] = value
        fcurve.update()

    score.select = True
    assert bpy.ops.moodscore.rescore_from_curves(strip=score.name) == {"FINISHED"}

    after = midi_notes(midi)
    changed_from = 2 * step_s
    assert [n for n in before if n[0] < changed_from] == [n for n in after if n[0] < changed_from]
    assert [n for n in before if n[0] >= changed_from] != [n for n in after if n[0] >= changed_from]
    text = (midi.parent / "clip.emotions.txt").read_text().splitlines()
    assert text[-1] == "0.000000, 0.000000"
    assert score_strip_of(scene, "clip") is not None  # the same strip, reloaded


def test_cloud_key_stays_in_the_preferences(edit, addon, tmp_path: Path) -> None:
    secret = "AIza-test-secret-4242"
    addon.cloud_api_key = secret
    try:
        add_movie(edit, "clip", 1, 1)
        assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}
        bpy.ops.wm.save_mainfile()
    finally:
        addon.cloud_api_key = ""
    written = [tmp_path / "edit.blend", *files_under(tmp_path / "moodscore")]
    assert len(written) > 3
    for path in written:
        assert secret.encode() not in path.read_bytes(), path


def test_reports_never_show_the_cloud_key(addon) -> None:
    from blender_addon.preferences import without_secrets

    addon.cloud_api_key = "AIza-test-secret-4242"
    try:
        message = without_secrets(
            "Scoring failed (HTTPError: 403 for ...?key=AIza-test-secret-4242)."
        )
    finally:
        addon.cloud_api_key = ""
    assert "AIza-test-secret-4242" not in message and "***" in message
    assert without_secrets("nothing secret here") == "nothing secret here"


def test_register_unregister_twice_leaves_no_leftovers(addon) -> None:
    import addon_utils

    from blender_addon.panels import progress

    header = bpy.types.STATUSBAR_HT_header
    for _ in range(2):
        addon_utils.disable(ADDON, default_set=True)
        assert not hasattr(bpy.types, "MOODSCORE_OT_score_strip")
        assert not hasattr(bpy.types, "SEQUENCER_PT_moodscore")
        assert not hasattr(bpy.types.Scene, "moodscore")
        assert not hasattr(compat.STRIP_TYPE, AROUSAL_PROP)
        assert header.draw is not progress.draw_status
        addon_utils.enable(ADDON, default_set=True)
        assert hasattr(bpy.types, "MOODSCORE_OT_rescore_from_curves")
    assert np.isclose(bpy.context.scene.moodscore.bpm, 120.0)
