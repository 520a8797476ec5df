"""RBM training with TensorFlow: tiny models, resume, Ctrl-C, bad input, two workers."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.config import Config
from core.errors import InputError
from core.generators import get_composer
from core.music.analysis import estimate_key, pitch_class_histogram
from core.music.midi import midi_bytes
from core.rbm.model import load_model
from core.rbm.roll import assemble_visible
from core.rbm.training.cli import add_train_arguments, run_train
from core.rbm.training.data import build_windows, load_folder
from core.rbm.training.evaluate import compare_with_baseline
from core.timeline import EmotionTimeline
from tests.test_rbm import TINY, write_synthetic_folder

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.slow  # every test trains (or loads a corpus): minutes, with TensorFlow

REPO = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = REPO / "scripts" / "train.py"
TINY_ARGS = [
    "--lowest-pitch",
    "48",
    "--pitch-count",
    "24",
    "--window",
    "16",
    "--hidden",
    "24",
    "--batch-size",
    "16",
    "--hop",
    "4",
    "--learning-rate",
    "0.1",
    "--quiet",
]


def train_args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    return parser.parse_args([*TINY_ARGS, *extra])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_folder(tmp_path_factory.mktemp("rbm") / "data")


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rbm") / "run"
    assert (
        run_train(
            train_args(
                "--data",
                str(data_dir),
                "--out",
                str(out),
                "--epochs",
                "40",
                "--checkpoint-every",
                "20",
            )
        )
        == 0
    )
    return out


def test_training_writes_checkpoints_and_export(trained: Path) -> None:
    names = {p.name for p in trained.iterdir()}
    assert {
        "epoch_20.index",
        "epoch_20.npz",
        "trained_system.index",
        "trained_system.npz",
        "training.json",
    } <= names
    state = json.loads((trained / "training.json").read_text())
    assert state["epoch"] == 40 and state["latest"] == "trained_system"
    assert state["history"][-1] < state["history"][0]  # reconstruction improves


def test_resume_equals_uninterrupted_run(trained: Path, tmp_path: Path) -> None:
    # A run killed right after its epoch-20 checkpoint: same files, trained_system not yet written.
    out = tmp_path / "resumed"
    out.mkdir()
    for path in trained.glob("epoch_20*"):
        (out / path.name).write_bytes(path.read_bytes())
    state = json.loads((trained / "training.json").read_text())
    state.update(latest="epoch_20", epoch=20, history=state["history"][:20])
    (out / "training.json").write_text(json.dumps(state))
    # The data source comes from training.json.
    run_train(
        train_args("--out", str(out), "--epochs", "40", "--resume", "--checkpoint-every", "20")
    )
    np.testing.assert_array_equal(
        load_model(out / "trained_system.npz").weights,
        load_model(trained / "trained_system.npz").weights,
    )


def test_rbm_beats_frequency_baseline(data_dir: Path, trained: Path) -> None:
    model = load_model(trained / "trained_system.npz")
    pieces, _ = load_folder(data_dir, TINY)
    visible = assemble_visible(*build_windows(pieces, TINY, 16), TINY)
    rbm, baseline = compare_with_baseline(model, visible)
    assert rbm.accuracy > baseline.accuracy
    assert rbm.cross_entropy < baseline.cross_entropy


def model_only(model_path: Path) -> Config:
    """A config that samples ``model_path`` with the sampler's constraints and the
    arrangement off: the model's own notes, in its own key (these tests judge the model)."""
    config = Config()
    config.rbm.model = str(model_path)
    config.rbm.cadences = False
    config.rbm.arrangement = False
    return config


def test_valence_clamping_moves_mode(trained: Path) -> None:
    config = model_only(trained / "trained_system.npz")
    compose = get_composer("rbm-sampling")

    def major_margin(valence: float) -> float:
        timeline = EmotionTimeline.from_values([0.5] * 16, [valence] * 16)
        notes = compose(timeline, config, 0).tracks[0].notes
        return estimate_key(pitch_class_histogram(notes)).major_margin

    high, low = major_margin(0.9), major_margin(0.1)
    print(f"major margin: high valence {high:.3f}, low valence {low:.3f}")
    assert high > low


@pytest.fixture(scope="module")
def conditional(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny conditional RBM (emotions drive hidden and note biases) on the synthetic folder."""
    out = tmp_path_factory.mktemp("rbm") / "conditional"
    args = train_args("--data", str(data_dir), "--out", str(out), "--epochs", "30")
    args.conditional = True
    assert run_train(args) == 0
    return out / "trained_system.npz"


def _sampled(model_path: Path, generator: str, arousal: float, valence: float, seed: int):
    config = model_only(model_path)
    timeline = EmotionTimeline.from_values([arousal] * 8, [valence] * 8)
    return get_composer(generator)(timeline, config, seed).tracks[0].notes


@pytest.mark.parametrize("generator", ["rbm-feedback", "rbm-sampling"])
def test_conditional_model_follows_valence_and_arousal(conditional: Path, generator: str) -> None:
    model = load_model(conditional)
    rows = (model.layout.lowest_pitch + np.arange(model.layout.pitch_count)) % 12
    play_pull = model.emotion_note_weights[1].reshape(-1, 2)[:, 0]
    # The learnt valence -> note-bias weights favour the major third over the minor one.
    assert play_pull[rows == 4].mean() > play_pull[rows == 3].mean()

    def third_shares(valence: float) -> tuple[float, float]:
        notes = [
            n for seed in range(3) for n in _sampled(conditional, generator, 0.5, valence, seed)
        ]
        classes = np.array([n.pitch % 12 for n in notes])
        return float(np.mean(classes == 4)), float(np.mean(classes == 3))

    (major_high, minor_high), (major_low, minor_low) = third_shares(0.9), third_shares(0.1)
    print(f"E / E-flat share: valence 0.9 {major_high:.2f}/{minor_high:.2f}, "
          f"0.1 {major_low:.2f}/{minor_low:.2f}")  # fmt: skip
    assert major_high > major_low and minor_low > minor_high

    def onsets(arousal: float) -> int:
        return sum(len(_sampled(conditional, generator, arousal, 0.5, seed)) for seed in range(3))

    assert onsets(0.9) > 1.5 * onsets(0.1)


def test_conditional_model_is_deterministic(conditional: Path) -> None:
    config = Config()
    config.rbm.model = str(conditional)
    timeline = EmotionTimeline.from_values([0.2, 0.8, 0.5, 0.9], [0.1, 0.9, 0.2, 0.8])
    for generator in ("rbm-feedback", "rbm-sampling"):
        compose = get_composer(generator)
        assert midi_bytes(compose(timeline, config, 4)) == midi_bytes(compose(timeline, config, 4))


@pytest.fixture(scope="module")
def with_memory(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny conditional RBM with one window of memory (a CRBM) on the synthetic folder."""
    out = tmp_path_factory.mktemp("rbm") / "memory"
    args = train_args(
        "--data", str(data_dir), "--out", str(out), "--epochs", "30", "--history", "1"
    )
    args.conditional = True
    assert run_train(args) == 0
    return out / "trained_system.npz"


def test_memory_model_learns_from_the_previous_bar(with_memory: Path) -> None:
    model = load_model(with_memory)
    assert model.layout.history_bars == 1
    assert model.context_note_weights.shape == (1 + 24, 48)
    # In the synthetic pieces a bar's chord predicts the next bar's: remembering a pitch
    # changes the note biases (the autoregressive weights learnt something).
    assert np.abs(model.context_note_weights).max() > 0.1
    assert np.abs(model.context_hidden_weights).max() > 0.01
    config = Config()
    config.rbm.model = str(with_memory)
    timeline = EmotionTimeline.from_values([0.2, 0.8, 0.5, 0.9], [0.1, 0.9, 0.2, 0.8])
    for generator in ("rbm-feedback", "rbm-sampling"):
        compose = get_composer(generator)
        score = compose(timeline, config, 4)
        assert score.tracks and midi_bytes(score) == midi_bytes(compose(timeline, config, 4))


def test_bad_input_one_sentence_nothing_overwritten(
    data_dir: Path, trained: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no MIDI files"):
        run_train(train_args("--data", str(empty), "--out", str(tmp_path / "o")))
    (empty / "x.mid").write_bytes(b"junk")
    with pytest.raises(InputError, match="No valid MIDI"):
        run_train(train_args("--data", str(empty), "--out", str(tmp_path / "o")))
    assert not (tmp_path / "o").exists()

    before = {p.name: p.stat().st_mtime_ns for p in trained.iterdir()}
    with pytest.raises(InputError, match="already holds a training run"):
        run_train(train_args("--data", str(data_dir), "--out", str(trained)))
    with pytest.raises(InputError, match="another shape"):
        run_train(
            train_args(
                "--data",
                str(data_dir),
                "--out",
                str(trained),
                "--resume",
                "--pitch-count",
                "36",
                "--epochs",
                "50",
            )
        )
    assert before == {p.name: p.stat().st_mtime_ns for p in trained.iterdir()}

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for path in trained.iterdir():
        (corrupt / path.name).write_bytes(path.read_bytes())
    data_file = next(corrupt.glob("trained_system.data-*"))
    data_file.write_bytes(data_file.read_bytes()[:100])
    with pytest.raises(InputError, match="damaged"):
        run_train(
            train_args("--data", str(data_dir), "--out", str(corrupt), "--resume", "--epochs", "50")
        )


def _script(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(TRAIN_SCRIPT), *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def test_script_exit_status_for_bad_input(tmp_path: Path) -> None:
    process = _script("--data", str(tmp_path), "--out", str(tmp_path / "o"))
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "holds no MIDI files" in output


def test_ctrl_c_saves_finished_epochs_then_resume(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    process = _script(
        *TINY_ARGS[:-1],
        "--data",
        str(data_dir),
        "--out",
        str(out),
        "--epochs",
        "100000",
        "--checkpoint-every",
        "100000",
    )
    deadline = time.monotonic() + 120
    seen = ""
    while "epoch 2/" not in seen and time.monotonic() < deadline:
        seen += process.stdout.readline()
    process.send_signal(signal.SIGINT)
    output = seen + process.communicate(timeout=60)[0]
    assert process.returncode == 130, output
    state = json.loads((out / "training.json").read_text())
    assert state["epoch"] >= 1 and (out / f"{state['latest']}.npz").exists()
    assert (
        run_train(train_args("--out", str(out), "--resume", "--epochs", str(state["epoch"] + 1)))
        == 0
    )


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_multi_worker_mirrored(data_dir: Path, tmp_path: Path) -> None:
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(
            _script(
                *TINY_ARGS,
                "--data",
                str(data_dir),
                "--out",
                str(tmp_path / f"out{index}"),
                "--epochs",
                "3",
                env={"TF_CONFIG": json.dumps(config)},
            )
        )
    outputs = [p.communicate(timeout=240)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    state = json.loads((tmp_path / "out0" / "training.json").read_text())
    assert state["epoch"] == 3
    assert load_model(tmp_path / "out0" / "trained_system.npz").layout == TINY
    assert not (tmp_path / "out1").exists()  # only the chief writes


def test_corpus_bars_are_aligned_after_a_pickup() -> None:
    pytest.importorskip("music21")
    from music21 import corpus

    from core.rbm.training.data import _parse_corpus_piece

    # BWV 1.6 starts with a one-beat pickup: padded by three beats, its first note falls on
    # step 12 and the first full bar on step 16.
    roll, _ = _parse_corpus_piece(Path(corpus.getWork("bwv1.6")), TINY)
    onsets = np.flatnonzero(roll[..., 1].any(axis=1))
    assert onsets[0] == 12 and 16 in onsets
