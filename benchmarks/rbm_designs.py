"""Compare RBM designs (memory or not) on the chorales none of them was trained on.

For each model file: masked-frame reconstruction (:mod:`core.rbm.training.evaluate`) of the
held-out chorales' one-bar windows, each moved to its own tonic C as in training, at the bar's
first 16th (where only one side of the frame is inside the window, so memory of the previous
bar can help most) and at its middle; a model with memory is given each window's context (the
previous bars of the same chorale). The baseline predicts every note with its training
frequency. Labels: valence from each bar's own key, arousal as the bar's onset-density
percentile among the held-out bars (the training labels' recipe on a smaller population).

Usage: ``python benchmarks/rbm_designs.py MODEL.npz [MODEL.npz ...]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import markdown_table

from core.rbm.model import load_model
from core.rbm.roll import Layout, assemble_visible, emotion_per_step
from core.rbm.training.data import (
    Piece,
    _parse_corpus_piece,
    build_training_set,
    corpus_paths,
    mode_valence,
    onsets_per_second,
)
from core.rbm.training.evaluate import compare_with_baseline


def held_out_pieces(names: set[str], layout: Layout) -> list[Piece]:
    """The named chorales, labelled as the module doc says."""
    parsed = [
        (path.stem, *_parse_corpus_piece(path, layout))
        for path in corpus_paths("bach")
        if path.stem in names
    ]
    densities = [onsets_per_second(roll, bpm) for _, roll, bpm in parsed]
    ranked = np.sort(np.concatenate(densities))
    pieces = []
    for (name, roll, _), density in zip(parsed, densities, strict=True):
        arousal = np.searchsorted(ranked, density, side="right") / len(ranked)
        lines = np.stack([arousal, mode_valence(roll, 1)], axis=1)
        pieces.append(Piece(name, roll, emotion_per_step(lines, len(roll))))
    return pieces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    args = parser.parse_args()
    models = [load_model(path) for path in args.models]
    names = set(filter(None, models[0].info.get("holdout_pieces", "").split(",")))
    rows = []
    for path, model in zip(args.models, models, strict=True):
        layout = model.layout
        pieces = held_out_pieces(names, layout)
        notes, emotions, context = build_training_set(pieces, layout, 16, key_normalized=True)
        visible = assemble_visible(notes, emotions, layout)
        cells = [f"{path.parent.name}/{path.name} ({layout.history_bars} bars of memory)"]
        for frame in (0, layout.window_steps // 2):
            rbm, base = compare_with_baseline(model, visible, frame, context)
            cells.append(f"{rbm.accuracy:.3f} / {rbm.cross_entropy:.4f}")
        cells.append(f"{base.accuracy:.3f} / {base.cross_entropy:.4f}")
        cells.append(model.info.get("reconstruction_error", "-"))
        rows.append(cells)
    print(f"{len(names)} held-out chorales\n")
    print(
        markdown_table(
            [
                "model",
                "1st 16th of the bar: accuracy / cross-entropy",
                "middle 16th",
                "frequency baseline (middle)",
                "training reconstruction error",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
