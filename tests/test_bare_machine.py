"""The command line on a machine with no FluidSynth and no SoundFont: the bundled synthesizer and
SoundFont make the music (see :mod:`tests.bare_machine`; the add-on's zips are tried the same
way in ``tests/test_addon_build.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyloudnorm
import pytest

from tests.audio import read_wav, read_wav_rate, rms_db
from tests.bare_machine import bare, bare_env, bare_machine_problem

REPO = Path(__file__).resolve().parent.parent
MOODSCORE = [sys.executable, "-m", "core"]

pytestmark = [
    pytest.mark.skipif(bare_machine_problem() is not None, reason=str(bare_machine_problem())),
    pytest.mark.slow,  # whole CLI runs in a mount namespace
]


def run_bare(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        bare(command), env=bare_env(), cwd=REPO, capture_output=True, text=True, timeout=600
    )


def test_the_namespace_hides_fluidsynth_and_every_soundfont() -> None:
    source = (
        "import glob\n"
        "print(sorted(glob.glob('/usr/share/sounds/**/*.sf*', recursive=True)))\n"
        "import fluidsynth"
    )
    probe = run_bare([sys.executable, "-c", source])
    # pyfluidsynth may print where the loader's cache says the library is (with $CI set).
    assert probe.stdout.splitlines()[0] == "[]"
    assert probe.returncode != 0 and "fluidsynth" in probe.stderr.lower()


def test_score_renders_a_mastered_wav_in_which_every_part_sounds(tmp_path: Path) -> None:
    out = tmp_path / "scored"
    # What `make demo` runs, with the stems so that each part can be heard on its own.
    demo = ["score", "examples/demo.mp4", "--generator", "chords"]
    result = run_bare([*MOODSCORE, *demo, "--stems", "--out", str(out), "--quiet"])
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((out / "score.json").read_text())
    assert manifest["synth"].startswith("rustysynth")
    assert Path(manifest["soundfont"]).name == "TimGM6mb.sf2"
    rate, mix = read_wav_rate(out / "demo.wav")
    assert pyloudnorm.Meter(rate).integrated_loudness(mix) == pytest.approx(-16.0, abs=0.5)
    assert len(mix) == round(manifest["duration_s"] * rate)
    stems = sorted(out.glob("demo.*.wav"))
    assert {p.name.split(".")[1] for p in stems} >= {"figure", "harmony", "bass", "percussion"}
    for stem in stems:
        level = rms_db(read_wav(stem))
        assert level > -50.0, f"{stem.name} is silent ({level:.0f} dBFS)"
