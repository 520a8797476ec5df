"""The ``train`` command: options and runner shared by ``scripts/train.py`` and ``moodscore train``.

TensorFlow is imported only when :func:`run_train` actually trains.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from ...errors import InputError
from ...limits import MAX_HIDDEN, MAX_SEED, bounds_error
from ..model import CHECKPOINT_DIR
from ..roll import Layout
from .data import build_training_set, load_corpus, load_folder, split_holdout

log = logging.getLogger(__name__)

SEED_DATA_DIR = "Midi_Files"  # the seed's default training folder, looked up in the cwd


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the training options to ``parser``."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--data",
        metavar="DIR",
        type=Path,
        help="folder of MIDI files, each with a same-stem emotion .txt "
        f"(default: ./{SEED_DATA_DIR} if it exists)",
    )
    source.add_argument(
        "--corpus",
        metavar="NAME",
        help="music21 bundled corpus (e.g. bach) with proxy emotion labels",
    )
    parser.add_argument(
        "--corpus-limit",
        metavar="N",
        type=int,
        default=0,
        help="use only the first N scores of the corpus (0 = all)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=Path(CHECKPOINT_DIR),
        help=f"checkpoint and model folder (default: ./{CHECKPOINT_DIR}, "
        "which the RBM generators pick up from the working directory)",
    )
    parser.add_argument(
        "--epochs",
        metavar="N",
        type=int,
        default=30,
        help="total epochs (a resumed run continues up to N)",
    )
    parser.add_argument("--seed", metavar="N", type=int, default=0, help="random seed")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its latest checkpoint"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    model = parser.add_argument_group("model and optimisation")
    model.add_argument("--hidden", metavar="N", type=int, default=128, help="hidden units")
    model.add_argument("--batch-size", metavar="N", type=int, default=64)
    model.add_argument(
        "--learning-rate",
        metavar="LR",
        type=float,
        default=0.05,
        help="initial rate; cosine decay to a tenth",
    )
    model.add_argument("--cd-steps", metavar="K", type=int, default=1, help="k of CD-k")
    model.add_argument("--momentum", type=float, default=0.5)
    model.add_argument("--weight-decay", type=float, default=1e-4, help="L2 on the weights")
    model.add_argument(
        "--checkpoint-every",
        metavar="N",
        type=int,
        default=1,
        help="write epoch_<n> every N epochs (default 1: a kill loses at most one epoch)",
    )
    model.add_argument(
        "--conditional",
        action="store_true",
        help="keep the emotion units clamped in the negative phase too "
        "(default: reconstruct them, the seed's joint RBM)",
    )
    model.add_argument(
        "--holdout",
        metavar="FRACTION",
        type=float,
        default=0.0,
        help="leave out about this fraction of the pieces (by name hash) for "
        "benchmarks/bench_rbm.py; their names go into the model",
    )
    model.add_argument(
        "--augment",
        action="store_true",
        help="with --corpus: also train on each score's parallel mode, rhythmic augmentation "
        "and diminution, transposed (labels from the transformed music)",
    )
    model.add_argument(
        "--normalize-key",
        action="store_true",
        help="transpose every training window to its own tonic C, so valence chooses between "
        "C major and C minor (the model then plays around C)",
    )
    model.add_argument(
        "--valence-bars",
        metavar="N",
        type=int,
        default=4,
        help="with --corpus: bars around each bar whose key gives its valence label (1 = the bar "
        "alone)",
    )
    model.add_argument(
        "--hop", metavar="STEPS", type=int, default=16, help="timesteps between training windows"
    )
    layout = parser.add_argument_group("representation (the seed's values by default)")
    layout.add_argument("--lowest-pitch", type=int, default=Layout.lowest_pitch)
    layout.add_argument("--pitch-count", type=int, default=Layout.pitch_count)
    layout.add_argument(
        "--window",
        metavar="STEPS",
        type=int,
        default=Layout.window_steps,
        help="16th-note timesteps per visible vector",
    )
    layout.add_argument(
        "--emotion-copies",
        metavar="K",
        type=int,
        default=Layout.emotion_copies,
        help="copies of the (arousal, valence) units per timestep, all clamped alike "
        "(seed: 1; more copies strengthen the conditioning)",
    )
    layout.add_argument(
        "--history",
        metavar="N",
        type=int,
        default=Layout.history_bars,
        help="windows of memory: condition each window on the pitches of the N windows before "
        "it and on whether it ends the piece (a CRBM; 0 = no memory, the seed's RBM)",
    )


def _check_numbers(args: argparse.Namespace) -> None:
    """Every numeric option against its range, before any data is read."""
    ranges: dict[str, tuple[float, float, float, str]] = {
        "--epochs": (args.epochs, 1, 100_000, ""),
        "--hidden": (args.hidden, 1, MAX_HIDDEN, "memory grows with it"),
        "--batch-size": (args.batch_size, 1, 65_536, ""),
        "--cd-steps": (args.cd_steps, 1, 1000, ""),
        "--checkpoint-every": (args.checkpoint_every, 1, 100_000, ""),
        "--hop": (args.hop, 1, 4096, "timesteps"),
        "--valence-bars": (args.valence_bars, 1, 64, "bars"),
        "--seed": (args.seed, 0, MAX_SEED, ""),
        "--corpus-limit": (args.corpus_limit, 0, 1_000_000, "0 = all"),
        "--holdout": (args.holdout, 0.0, 0.9, "a fraction of the pieces"),
        "--learning-rate": (args.learning_rate, 1e-6, 10.0, ""),
        "--momentum": (args.momentum, 0.0, 0.99, ""),
        "--weight-decay": (args.weight_decay, 0.0, 0.1, ""),
    }
    for flag, (value, low, high, why) in ranges.items():
        problem = bounds_error(flag, value, low, high, why)
        if problem:
            raise InputError(problem)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; choose a folder for the checkpoints.")


def _check_resumable(out: Path) -> None:
    """``--resume`` needs a checkpoint: say so rather than silently start from scratch."""
    from .state import read_state

    if read_state(out) is None:
        raise InputError(
            f"--resume: {out} holds no checkpoint to resume; leave out --resume to start a new "
            "run there, or point --out at the run to continue."
        )


def _source(args: argparse.Namespace) -> dict[str, Any]:
    if args.corpus:
        return {"corpus": args.corpus, "limit": args.corpus_limit}
    if args.data:
        return {"data": str(args.data)}
    if args.resume:
        from .state import read_state

        state = read_state(Path(args.out))
        if state and state.get("source"):
            return dict(state["source"])
    if Path(SEED_DATA_DIR).is_dir():
        return {"data": SEED_DATA_DIR}
    raise InputError(
        "Give the training data: --data DIR (MIDI + emotion files) or "
        "--corpus NAME (e.g. --corpus bach)."
    )


def run_train(args: argparse.Namespace) -> int:
    """Train an RBM from parsed :func:`add_train_arguments` options; return the exit status.

    Raises
    ------
    core.errors.MoodscoreError
        ``InputError`` (exit 2) for bad data, options or checkpoints; ``Cancelled`` (130) on
        Ctrl-C after saving. Callers map ``exc.exit_code`` to the process status.
    """
    if args.quiet:
        logging.getLogger(__package__).setLevel(logging.WARNING)
    _check_numbers(args)
    if args.resume:
        _check_resumable(Path(args.out))
    layout = Layout(
        args.lowest_pitch, args.pitch_count, args.window, args.emotion_copies, args.history
    )
    source = _source(args)
    augment = bool(args.augment or source.get("augment"))
    normalize = bool(args.normalize_key or source.get("normalize_key"))
    valence_bars = int(source.get("valence_bars", args.valence_bars))
    if "corpus" in source:
        pieces, report = load_corpus(
            str(source["corpus"]),
            layout,
            int(source["limit"]) or None,
            progress=not args.quiet,
            augment=augment,
            valence_context_bars=valence_bars,
        )
    else:
        if augment:
            raise InputError(
                "--augment works with --corpus only (a --data folder's labels are its own)."
            )
        pieces, report = load_folder(Path(str(source["data"])), layout)
    pieces, held_out = split_holdout(pieces, args.holdout)
    notes, emotions, context = build_training_set(
        pieces, layout, args.hop, key_normalized=normalize
    )
    held_names = sorted({p.origin or p.name for p in held_out})
    log.info(
        "Training data: %s; %d held out; %d training pieces%s; %d windows of %d visible units.",
        report.summary(),
        len(held_names),
        len(pieces),
        " (with augmented versions)" if augment else "",
        len(notes),
        layout.visible_units,
    )

    # TensorFlow's C++ start-up prints info lines (oneDNN, CPU features) to stderr, around our
    # progress and before any one-sentence error; warnings and errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    from .train import TrainOptions, train

    options = TrainOptions(
        out=Path(args.out),
        epochs=args.epochs,
        seed=args.seed,
        hidden=args.hidden,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        cd_steps=args.cd_steps,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        checkpoint_every=args.checkpoint_every,
        joint=not args.conditional,
        resume=args.resume,
        quiet=args.quiet,
        source={
            **source,
            "hop": args.hop,
            "holdout": args.holdout,
            "augment": augment,
            "normalize_key": normalize,
            "valence_bars": valence_bars,
        },
        info={"holdout_pieces": ",".join(held_names)},
    )
    summary = train(notes, emotions, layout, options, context)
    log.info(
        "Trained %d epoch(s) (%d of %d done) on %d windows in %.1f s, %.0f examples/s; "
        "reconstruction error %.5f; data: %s; model: %s",
        summary.epochs_run,
        summary.epochs_done,
        args.epochs,
        summary.examples,
        summary.seconds,
        summary.examples_per_s,
        summary.reconstruction_error,
        report.summary(),
        summary.model_path,
    )
    return 0
