"""The Blender add-on with the real ``bpy`` module: strip geometry, scoring, cancel, re-score.

``bpy.app.background`` is set in the module, so the operators wait for the same engine process
the modal UI path polls from its timer; a watcher thread plays the user (reads the progress,
cancels) or the system (kills the engine) meanwhile.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import mido
import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_addon import compat, engine  # noqa: E402
from blender_addon.properties import AROUSAL_PROP, VALENCE_PROP  # noqa: E402
from tests.blender_scenes import (  # noqa: E402
    add_colour_strip,
    add_movie,
    files_under,
    process_gone,
    score_strip_of,
    timing,
    watching,
    wav_seconds,
)

pytestmark = pytest.mark.slow
ADDON = "blender_addon"


def test_trimmed_strip_before_frame_one_in_a_24fps_scene(edit, tmp_path: Path) -> None:
    scene = edit
    scene.render.fps = 24  # the 25 fps clip keeps its 200 frames
    strip = add_movie(scene, "clip", 2, -20)
    compat.set_strip_timing(strip, "left_handle_offset", 30)  # visible: frames 10-159
    compat.set_strip_timing(strip, "right_handle_offset", 20)
    blocker = add_colour_strip(scene, "blocker", channel=3, start=100, frames=20)

    assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}

    score = score_strip_of(scene, "clip")
    assert score is not None and score.type == "SOUND"
    assert timing(score, "left_handle") == 10
    assert score.channel == blocker.channel + 1  # channel 3 is busy over frames 100-120
    assert abs(timing(score, "duration") - 150) <= 1
    assert score.sound.filepath == "//moodscore/clip/v1/clip.wav"  # each score a new version
    wav = tmp_path / "moodscore" / "clip" / "v1" / "clip.wav"
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
    # Visible from frame -30 to the clip's end (frame 159).
    compat.set_strip_timing(strip, "left_handle_offset", 10)
    image = tmp_path / "still.png"
    pixels = bpy.data.images.new("still", 8, 8)
    pixels.save(filepath=str(image))
    compat.strips_in(scene.sequence_editor).new_image("stills", str(image), 3, 1)

    with pytest.raises(RuntimeError, match="image sequence"):
        bpy.ops.moodscore.score_strip(strip="stills")
    assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}

    score = score_strip_of(scene, "clip")
    assert (timing(score, "left_handle"), score.channel) == (-30, 2)
    assert abs(timing(score, "duration") - 190) <= 1
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
    assert score_strip_of(other, "clip").sound.filepath == "//moodscore/clip-2/v1/clip.wav"


def test_scores_in_an_engine_process_that_reports_progress(edit, tmp_path: Path) -> None:
    add_movie(edit, "clip", 1, 1)
    with watching() as watcher:
        assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}

    assert watcher.pid is not None and watcher.pid != os.getpid()
    assert process_gone(watcher.pid)
    # Below Blender: a lower priority, and a policy whose wake-ups never preempt its UI.
    assert watcher.priority > os.getpriority(os.PRIO_PROCESS, 0)
    assert watcher.policy == os.SCHED_BATCH
    stages = [stage for stage, _ in watcher.progress]
    fractions = [fraction for _, fraction in watcher.progress]
    assert stages[0] == "starting the engine" and fractions[0] == 0.0
    assert len(set(stages)) >= 3, stages  # e.g. analysis, composing, rendering
    assert all(stage.startswith("clip: ") for stage in stages[1:-1]), stages
    assert fractions == sorted(fractions) and fractions[-1] > 0.5, fractions
    assert not watcher.workdir.exists()
    assert not any(path.exists() for path in watcher.staging)
    assert score_strip_of(edit, "clip") is not None
    assert (tmp_path / "moodscore" / "clip" / "v1" / "clip.wav").is_file()


def test_cancel_midway_leaves_no_strip_and_no_file(edit, tmp_path: Path) -> None:
    scene = edit
    add_movie(scene, "clip", 1, 1)

    with watching(lambda job: engine.cancel_active()) as watcher:  # what Cancel and Esc do
        result = bpy.ops.moodscore.score_strip(strip="clip")

    assert watcher.acted
    assert result == {"CANCELLED"}
    assert process_gone(watcher.pid)
    assert score_strip_of(scene, "clip") is None
    assert files_under(tmp_path / "moodscore") == []
    assert not (tmp_path / "moodscore").exists()
    assert not watcher.workdir.exists()  # the engine's temp files went with it
    assert engine.active_job() is None


def test_the_engine_stops_and_cleans_up_when_blender_goes_away(
    addon, tmp_path: Path, clip25
) -> None:
    from blender_addon.core.config import Config

    config = Config()
    config.music.generator = "chords"
    out_dir = tmp_path / "moodscore" / "clip"
    job = engine.ScoringJob(
        [engine.ScoreRequest("clip", clip25, out_dir, "clip", config, 0.0, 8.0)]
    )
    job.start()
    deadline = time.monotonic() + 60
    while job.fraction == 0.0 and time.monotonic() < deadline:
        assert not job.poll()
        time.sleep(0.01)
    process, workdir = job._process, job.workdir
    process.stdin.close()  # what the engine sees when Blender crashes or is killed

    assert process.wait(timeout=60) == 1  # it cancelled itself
    assert not workdir.exists()
    assert not (tmp_path / "moodscore").exists()
    job.poll()
    assert job.done


def test_a_killed_engine_is_an_error_report_and_leaves_nothing(edit, tmp_path: Path) -> None:
    scene = edit
    add_movie(scene, "clip", 1, 1)

    def kill(job: engine.ScoringJob) -> None:
        os.kill(job.pid, signal.SIGKILL)  # an out-of-memory kill or a crash

    with watching(kill) as watcher, pytest.raises(RuntimeError) as failure:
        bpy.ops.moodscore.score_strip(strip="clip")

    assert watcher.acted
    assert "engine stopped unexpectedly (killed by SIGKILL)" in str(failure.value)
    assert "nothing was written" in str(failure.value)
    assert score_strip_of(scene, "clip") is None
    assert files_under(tmp_path / "moodscore") == []
    assert not watcher.workdir.exists()
    assert engine.active_job() is None
    # Blender carries on: the next score works.
    assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}


def midi_notes(path: Path) -> list[tuple[float, int]]:
    """(start second, pitch) of every note."""
    notes, now = [], 0.0
    for message in mido.MidiFile(str(path)):
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            notes.append((round(now, 3), message.note))
    return sorted(notes)


def test_rescore_from_edited_curves_changes_the_music_where_they_changed(
    edit, tmp_path: Path
) -> None:
    scene = edit
    add_movie(scene, "clip", 1, 1)
    assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}
    score = score_strip_of(scene, "clip")
    midi = tmp_path / "moodscore" / "clip" / "v1" / "clip.mid"
    before = midi_notes(midi)
    analysed = (midi.parent / "clip.emotions.txt").read_text().splitlines()
    step_s = 240.0 / score.moodscore.bpm
    # Drag the curves of the last two of four steps to calm and sad.
    fps = scene.render.fps
    for prop, value in ((AROUSAL_PROP, 0.0), (VALENCE_PROP, 0.0)):
        fcurve = compat.find_fcurve(scene, score.path_from_id(prop))
        for point in fcurve.keyframe_points:
            if point.co[0] >= timing(score, "content_start") + 2 * step_s * fps - 0.5:
                point.co[1] = value
        fcurve.update()

    score.select = True
    assert bpy.ops.moodscore.rescore_from_curves(strip=score.name) == {"FINISHED"}

    midi = tmp_path / "moodscore" / "clip" / "v2" / "clip.mid"  # a new version beside v1
    after = midi_notes(midi)
    changed_from = 2 * step_s
    # The composer plans the whole piece (its form looks ahead), so only the edited part is
    # sure to change; the curves it read are the edited ones, the first steps as analysed.
    assert [n for n in before if n[0] >= changed_from] != [n for n in after if n[0] >= changed_from]
    text = (midi.parent / "clip.emotions.txt").read_text().splitlines()
    assert text[-1] == "0.000000, 0.000000"
    assert text[:2] == analysed[:2]
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


class VisionRecorder(BaseHTTPRequestHandler):
    """A stand-in Vision endpoint on 127.0.0.1 that records every request and finds no face."""

    requests: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).requests.append(self.path)
        body = json.dumps({"responses": [{}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def vision_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[VisionRecorder]]:
    """Every score's Cloud source pointed at a recording server on 127.0.0.1."""
    from blender_addon.operators import strips

    handler = type("Recorder", (VisionRecorder,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    build_config = strips.build_config

    def local_endpoint(context, **grid):
        config = build_config(context, **grid)
        config.analysis.cloud.endpoint = f"http://127.0.0.1:{server.server_port}/v1/images:annotate"
        return config

    monkeypatch.setattr(strips, "build_config", local_endpoint)
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_online_access_off_greys_out_cloud_and_contacts_nobody(
    edit, addon, tmp_path: Path, vision_endpoint, online_access
) -> None:
    from blender_addon.operators.scoring import engine_config
    from blender_addon.properties import online_access as allowed

    add_movie(edit, "clip", 1, 1)
    edit.moodscore.sources = {"colour", "cloud"}
    addon.cloud_api_key = "test-key"
    try:
        online_access(True)  # the control: the Cloud source does reach the server
        assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}
        assert len(vision_endpoint.requests) >= 1
        vision_endpoint.requests.clear()

        online_access(False)
        assert not allowed()
        config, warnings = engine_config(bpy.context)
        assert config.analysis.sources == ["colour"]
        assert warnings == [
            "Cloud source skipped: online access is off in Blender's preferences "
            "(System > Network)."
        ]
        assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}
        manifest = json.loads((tmp_path / "moodscore" / "clip" / "v2" / "score.json").read_text())
        assert manifest["options"]["analysis"]["sources"] == ["colour"]
        edit.moodscore.sources = {"cloud"}
        with pytest.raises(RuntimeError, match="online access is off"):
            bpy.ops.moodscore.score_strip(strip="clip")
    finally:
        addon.cloud_api_key = ""
    assert vision_endpoint.requests == []


def test_status_bar_shows_the_job_and_is_given_back(edit) -> None:
    from blender_addon.panels import progress

    header = bpy.types.STATUSBAR_HT_header
    job = engine.ScoringJob([])
    job.stage, job.fraction = "clip: analysis", 0.42
    engine.claim(job)
    try:
        progress.show(bpy.context, job)
        assert header.draw is progress.draw_status
        assert progress.update(bpy.context, job, None) == ("clip: analysis", 42, 0)
    finally:
        engine.release(job)
        progress.clear(bpy.context)
    assert header.draw is not progress.draw_status


def test_loudness_preference_reaches_the_wav(edit, addon, tmp_path: Path) -> None:
    from blender_addon.core.music.config import RenderConfig

    from blender_addon.operators.scoring import engine_config

    prefs_range = addon.bl_rna.properties["loudness_lufs"]
    assert (prefs_range.hard_min, prefs_range.hard_max) == (-50.0, -10.0)  # core's own limits
    assert engine_config(bpy.context)[0].render.loudness_lufs == RenderConfig.loudness_lufs
    add_movie(edit, "clip", 1, 1)
    addon.loudness_lufs = -23.0
    try:
        assert engine_config(bpy.context)[0].render.loudness_lufs == -23.0
        assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}
    finally:
        addon.loudness_lufs = RenderConfig.loudness_lufs
    manifest = json.loads((tmp_path / "moodscore" / "clip" / "v1" / "score.json").read_text())
    assert manifest["options"]["render"]["loudness_lufs"] == -23.0


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
