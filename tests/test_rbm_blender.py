"""``blender -b -P scripts/train.py -- …`` with the real Debian Blender binary."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_rbm import write_synthetic_folder

REPO = Path(__file__).resolve().parents[1]
BLENDER = shutil.which("blender")

pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(
        BLENDER is None, reason="needs the blender binary (apt-get install blender)"
    ),
]


def _blender(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home), "MOODSCORE_PYTHON": sys.executable}
    return subprocess.run(
        [BLENDER, "-b", "--factory-startup", "-P", str(REPO / "scripts" / "train.py"), "--", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_blender_hands_training_to_project_python(tmp_path: Path) -> None:
    data = write_synthetic_folder(tmp_path / "data", copies=1)
    result = _blender(
        "--data",
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--epochs",
        "2",
        "--lowest-pitch",
        "48",
        "--pitch-count",
        "24",
        "--window",
        "16",
        "--hidden",
        "8",
        "--batch-size",
        "8",
        home=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "epoch 2/2" in result.stdout  # progress streamed back from the child
    assert "Trained 2 epoch(s)" in result.stdout
    assert (tmp_path / "run" / "trained_system.npz").is_file()


def test_blender_passes_on_exit_status_for_bad_input(tmp_path: Path) -> None:
    result = _blender("--data", str(tmp_path), "--out", str(tmp_path / "run"), home=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "holds no MIDI files" in result.stdout
