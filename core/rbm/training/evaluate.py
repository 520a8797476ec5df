"""Held-out prediction quality of an RBM, shared by the tests and ``benchmarks/bench_rbm.py``.

The task is *masked-frame reconstruction*: in each held-out window the note units of one
timestep (the frame) are hidden, and the model fills them in from the rest of the window and
the clamped emotions by mean-field iterations. The baseline predicts every note with its
training frequency. Both are scored on the frame's *play* states with

- frame accuracy ``TP / (TP + FP + FN)`` (Bay et al.), predicting the ``n`` most probable
  pitches where ``n`` is the number of notes truly sounding, so neither side needs a threshold;
- binary cross-entropy per play unit (nats).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..model import RbmModel, sigmoid
from ..roll import PLAY

MEAN_FIELD_ITERATIONS = 10


@dataclass(frozen=True)
class FrameScores:
    """Frame accuracy and cross-entropy of one predictor."""

    accuracy: float
    cross_entropy: float


def masked_frame_probabilities(
    model: RbmModel, visible: NDArray[Any], frame: int, context: NDArray[Any] | None = None
) -> NDArray[np.float32]:
    """Probabilities of the note units of timestep ``frame``, given everything else.

    Parameters
    ----------
    visible
        Full visible vectors, shape ``(n, visible_units)``.
    context
        The windows' context vectors ``(n, context_units)`` for a model with memory.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, note_units)``.
    """
    layout = model.layout
    hidden_units = np.zeros(layout.visible_units, dtype=bool)
    start = frame * layout.units_per_step
    hidden_units[start : start + layout.note_units] = True
    base = model.visible_mean[hidden_units]
    current = visible.astype(np.float32).copy()
    current[:, hidden_units] = base
    hidden_bias = np.broadcast_to(model.hidden_bias, (len(visible), model.hidden))
    note_bias = np.broadcast_to(model.visible_bias[hidden_units], (len(visible), layout.note_units))
    if layout.context_units and context is not None:
        hidden_bias = hidden_bias + context @ model.context_hidden_weights
        note_bias = note_bias + context @ model.context_note_weights
    # The emotion -> note-bias weights of a conditional model, from the frame's emotions.
    emotions = visible[:, start + layout.note_units : start + layout.note_units + 2]
    # RbmModel.__post_init__ replaces a None emotion_note_weights with zeros.
    assert model.emotion_note_weights is not None
    note_bias = note_bias + emotions.astype(np.float32) @ model.emotion_note_weights
    for _ in range(MEAN_FIELD_ITERATIONS):
        hidden = sigmoid(current @ model.weights + hidden_bias)
        current[:, hidden_units] = sigmoid(hidden @ model.weights[hidden_units].T + note_bias)
    return current[:, hidden_units]


def score_frames(probabilities: NDArray[Any], truth: NDArray[Any]) -> FrameScores:
    """Score play-state predictions ``(n, note_units)`` against the true note units."""
    pitches = probabilities.shape[1] // 2
    p = np.clip(probabilities.reshape(-1, pitches, 2)[..., PLAY], 1e-6, 1 - 1e-6)
    t = truth.reshape(-1, pitches, 2)[..., PLAY].astype(bool)
    counts = t.sum(axis=1)
    ranked = np.argsort(-p, axis=1, kind="stable")
    true_positives = sum(int(t[i, ranked[i, :k]].sum()) for i, k in enumerate(counts))
    misses = int(counts.sum()) - true_positives  # with top-n, false positives = false negatives
    denominator = true_positives + 2 * misses
    accuracy = true_positives / denominator if denominator else 1.0
    cross_entropy = float(-np.mean(t * np.log(p) + (~t) * np.log(1 - p)))
    return FrameScores(accuracy=accuracy, cross_entropy=cross_entropy)


def compare_with_baseline(
    model: RbmModel,
    visible: NDArray[Any],
    frame: int | None = None,
    context: NDArray[Any] | None = None,
) -> tuple[FrameScores, FrameScores]:
    """Masked-frame scores of the RBM (given the windows' ``context`` if it has memory) and
    of the per-note-frequency baseline.

    ``frame`` defaults to the middle of the window.
    """
    layout = model.layout
    frame = layout.window_steps // 2 if frame is None else frame
    start = frame * layout.units_per_step
    truth = visible[:, start : start + layout.note_units]
    rbm = score_frames(masked_frame_probabilities(model, visible, frame, context), truth)
    frequency = np.broadcast_to(model.visible_mean[start : start + layout.note_units], truth.shape)
    return rbm, score_frames(frequency, truth)
