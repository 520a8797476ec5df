#!/usr/bin/env python3
"""Train the Moodscore RBM (headless).

    python scripts/train.py --corpus bach --out parameter_checkpoints --epochs 30
    blender -b -P scripts/train.py -- --corpus bach --out parameter_checkpoints

The same options as ``moodscore train`` (see ``--help``). Inside Blender the script does not
train in Blender's own Python (TensorFlow's h5py clashes with the HDF5 that Blender links):
it runs itself again with the project's Python - ``$MOODSCORE_PYTHON``, else ``.venv/bin/python``
beside this script's repository - and streams that process's output back, exiting with its
status.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON_ENV = "MOODSCORE_PYTHON"


CHILD_ENV = "MOODSCORE_TRAIN_CHILD"  # set in the child so it can never hand over again


def inside_blender() -> bool:
    """True when running in Blender's embedded Python.

    Blender has imported ``bpy`` before it runs a ``-P`` script; importing it here instead
    would also succeed in a venv that has the ``bpy`` module installed, which is not Blender.
    """
    return "bpy" in sys.modules and not os.environ.get(CHILD_ENV)


def project_python() -> Path:
    """The interpreter that has Moodscore's training dependencies."""
    if os.environ.get(PYTHON_ENV):
        return Path(os.environ[PYTHON_ENV])
    for candidate in (REPO / ".venv" / "bin" / "python", REPO / ".venv" / "Scripts" / "python.exe"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"No project Python found; set {PYTHON_ENV} to the Python that has Moodscore installed."
    )


def run_in_child(arguments: list[str]) -> int:
    """Run this script with the project's Python, relaying its output as it arrives."""
    try:
        python = project_python()
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    env["PYTHONUNBUFFERED"] = "1"
    env[CHILD_ENV] = "1"
    command = [str(python), str(Path(__file__).resolve()), *arguments]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    ) as child:
        assert child.stdout is not None
        while True:
            try:
                # Raw chunks, not lines: tqdm redraws its bar with carriage returns.
                chunk = os.read(child.stdout.fileno(), 4096)
            except KeyboardInterrupt:
                continue  # the child got the same Ctrl-C; let it save and exit
            if not chunk:
                break
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
        return child.wait()


def main(argv: list[str]) -> int:
    """Train with ``argv`` options; return the exit status."""
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from core.errors import MoodscoreError
    from core.rbm.training.cli import add_train_arguments, run_train

    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train the Moodscore RBM on MIDI + emotion pairs or a "
        "music21 corpus; writes checkpoints and an exported .npz model to --out.",
    )
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return run_train(args)
    except MoodscoreError as exc:
        logging.getLogger("train").error("%s", exc)
        return exc.exit_code


if __name__ == "__main__":
    if inside_blender():
        after = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []
        status = run_in_child(after)
        sys.stdout.flush()
        sys.exit(status)
    sys.exit(main(sys.argv[1:]))
