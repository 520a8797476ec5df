"""``--stems``: one WAV per part, adding up to the mix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from tests.edit_clips import write_clip_with_audio

#: Loud enough that the mix's true-peak limiter acts for seconds: the stems must follow it.
LOUDNESS = "-10"


def _read(path: Path) -> np.ndarray:
    """Samples as every reader scales them (16-bit PCM / 32768, float as is), frames x 2."""
    from scipy.io import wavfile

    _, data = wavfile.read(path)
    assert data.ndim == 2 and data.shape[1] == 2
    return data / 32768.0 if data.dtype == np.int16 else data.astype(np.float64)


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
    mix = _read(stems_run / "cuts.wav")
    for name in stems.values():
        part = _read(stems_run / name)
        assert len(part) == len(mix) and np.abs(part).max() > 0.01


def test_stems_add_up_to_the_mix_the_limiter_shaped(stems_run: Path) -> None:
    manifest = json.loads((stems_run / "score.json").read_text())
    assert manifest["audio"]["limited_s"] > 1.0
    stems = manifest["edit"]["stems"]
    mix = _read(stems_run / "cuts.wav")
    total = sum(_read(stems_run / name) for name in stems.values())
    difference_dbfs = 20 * np.log10(np.abs(total - mix).max())
    assert difference_dbfs < -60.0
    # Each stem is a real part, not the mix: every one differs from it by far more.
    for name in stems.values():
        assert np.abs(_read(stems_run / name) - mix).max() > 0.03


def test_without_the_option_no_stems_are_written(tmp_path: Path) -> None:
    clip = write_clip_with_audio(tmp_path / "c.mp4", 2.0)
    assert main(["score", str(clip), "--quiet", "--out", str(tmp_path / "o")]) == 0
    assert not list((tmp_path / "o").glob("c.*.wav"))


def test_every_stem_renders_at_the_volumes_matched_on_the_whole_score(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Matched alone, a part could move by the common shift that keeps every boost under
    # CC 7's 127; so the mix and every part get the whole score's volumes.
    from core.edit import stems
    from core.music.config import RenderConfig
    from core.music.score import Note, Score, Track

    notes = [Note(i * 480, 480, 60, 80) for i in range(8)]
    score = Score(120.0, [Track("Melody", 0, 0, notes), Track("Harmony", 48, 2, notes),
                          Track("Bass", 32, 3, notes)], 8 * 480)  # fmt: skip
    matched = {0: 90, 2: 127, 3: 80}
    monkeypatch.setattr(stems, "matched_volumes", lambda s, f, synth: matched)
    seen = []

    def fake(s, font, rate, total, cancel=None, *, synth="auto", volumes=None):  # type: ignore[no-untyped-def]
        seen.append(({t.channel for t in s.tracks}, volumes))
        yield np.full((total, 2), 0.01, np.float32)

    monkeypatch.setattr(stems, "synthesize", fake)
    paths = {role: tmp_path / f"{role}.wav" for role in ("melody", "harmony", "bass")}
    written = stems.render_stems(score, paths, RenderConfig(), 4.0, Path("x.sf2"), 0.0)
    assert set(written) == set(paths)
    assert len(seen) == 3  # the mix, then every part but the last
    assert all(volumes == matched for _, volumes in seen)
