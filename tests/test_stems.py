"""``--stems``: one WAV per part, adding up to the mix."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from tests.edit_clips import write_clip_with_audio

#: Quiet enough that the mix's true-peak limiter never acts, so the mix is exactly its one
#: mastering gain times the first pass, as the stems are.
LOUDNESS = "-30"


def _pcm(path: Path) -> np.ndarray:
    with wave.open(str(path)) as source:
        assert (source.getnchannels(), source.getsampwidth()) == (2, 2)
        return np.frombuffer(source.readframes(source.getnframes()), "<i2").astype(np.int64)


@pytest.fixture(scope="module")
def stems_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stems")
    clip = write_clip_with_audio(folder / "cuts.mp4", 10.0, cuts_s=(3.0, 6.0))
    out = folder / "out"
    args = ["score", str(clip), "--stems", "--loudness", LOUDNESS, "--seed", "2", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    return out


def test_one_wav_per_part_the_generator_played(stems_run: Path) -> None:
    manifest = json.loads((stems_run / "score.json").read_text())
    stems = manifest["edit"]["stems"]
    assert len(stems) >= 3 and {"harmony", "bass"} <= set(stems)
    for role, name in stems.items():
        assert name == f"cuts.{role}.wav" and (stems_run / name).is_file()
    # Parts the score does not play leave no file behind.
    assert {p.name for p in stems_run.glob("*.wav")} == {"cuts.wav", *stems.values()}
    assert set(manifest["outputs"]) >= {f"stem_{role}" for role in stems}
    assert not {k for k in manifest["outputs"] if k.startswith("stem_")} - {
        f"stem_{role}" for role in stems
    }
    mix = _pcm(stems_run / "cuts.wav")
    for name in stems.values():
        part = _pcm(stems_run / name)
        assert len(part) == len(mix) and np.abs(part).max() > 0


def test_stems_add_up_to_the_mix(stems_run: Path) -> None:
    stems = json.loads((stems_run / "score.json").read_text())["edit"]["stems"]
    mix = _pcm(stems_run / "cuts.wav")
    total = sum(_pcm(stems_run / name) for name in stems.values())
    difference_dbfs = 20 * np.log10(max(1, np.abs(total - mix).max()) / 32768.0)
    assert difference_dbfs < -60.0
    # Each stem is a real part, not the mix: every one differs from it by far more.
    for name in stems.values():
        assert np.abs(_pcm(stems_run / name) - mix).max() > 1000


def test_without_the_option_no_stems_are_written(tmp_path: Path) -> None:
    clip = write_clip_with_audio(tmp_path / "c.mp4", 2.0)
    assert main(["score", str(clip), "--quiet", "--out", str(tmp_path / "o")]) == 0
    assert not list((tmp_path / "o").glob("c.*.wav"))
