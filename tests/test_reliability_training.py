"""Issue 11, training: a kill loses at most one epoch; SIGTERM checkpoints like Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.rbm.model import load_model
from tests.test_rbm import write_synthetic_folder
from tests.test_rbm_train import TINY_ARGS

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_folder(tmp_path_factory.mktemp("rbm") / "data")


def _train_until_epoch(data_dir: Path, out: Path, epoch: int) -> subprocess.Popen[str]:
    """Start ``moodscore train`` (default checkpointing) and return once it logged ``epoch``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "core", "train", *TINY_ARGS[:-1], "--data", str(data_dir),
         "--out", str(out), "--epochs", "100000"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    deadline, seen = time.monotonic() + 180, ""
    while f"epoch {epoch}/" not in seen:
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"training never reached epoch {epoch}: {seen}")
        seen += line
    return process


def test_kill_9_loses_at_most_one_epoch_and_resume_continues(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    process = _train_until_epoch(data_dir, out, 3)
    process.kill()
    process.communicate(timeout=60)
    state = json.loads((out / "training.json").read_text())
    assert state["epoch"] >= 2  # logged epoch 3 was being saved; epoch 2 surely was
    assert load_model(out / f"{state['latest']}.npz").hidden == 24
    resumed = subprocess.run(
        [sys.executable, "-m", "core", "train", *TINY_ARGS, "--out", str(out), "--resume",
         "--epochs", str(state["epoch"] + 1)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "training.json").read_text())["epoch"] == state["epoch"] + 1


def test_sigterm_checkpoints_like_ctrl_c(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = _train_until_epoch(data_dir, out, 2)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 130, output
    assert "--resume" in output and "Traceback" not in output
    state = json.loads((out / "training.json").read_text())
    assert state["epoch"] >= 1 and (out / f"{state['latest']}.npz").is_file()
