"""TensorFlow 2 training of the Bernoulli RBM (the only module of ``core`` that imports TF).

Contrastive divergence CD-k on minibatches inside one ``tf.function``; cosine learning-rate
decay, momentum and L2 weight decay. By default the emotion units are reconstructed in the
negative phase like every other unit (the seed's *joint* RBM). ``joint=False`` trains a
*conditional* RBM (Taylor & Hinton): the emotions stay clamped in the negative phase, drive the
hidden biases through their weights (``b_h + A e``) and, per timestep, the note units' biases
through ``emotion_note_weights`` (``b_v,t + e_t B``). With memory (``layout.history_bars``)
each window's context vector ``c`` (the previous windows' pitches and a last-window flag) is
clamped the same way and drives the hidden biases (``c C_h``) and every timestep's note biases
(``c C_v``): Taylor & Hinton's CRBM with autoregressive inputs. Each epoch reports the mean
squared reconstruction error of the note units.

Checkpoints (``tf.train.Checkpoint``) go to ``OUT/epoch_<n>`` every ``checkpoint_every`` epochs
and to ``OUT/trained_system`` at the end (the seed's names), each with an exported
``.npz`` beside it for numpy sampling; ``OUT/training.json`` records the latest one. A resumed
run restores the latest and continues at the next epoch with the same data order and random
streams, so ``--resume`` after Ctrl-C gives the same weights as an uninterrupted run.

Scale-out: with ``TF_CONFIG`` set, training runs under ``MultiWorkerMirroredStrategy``. Every
worker builds the same data (same source, same seed) and takes its share of each global batch;
gradients are summed across workers before each update. Start the same command on every
machine with its own ``TF_CONFIG``::

    # on host a (worker 0, the chief); host b runs the same with "index": 1
    export TF_CONFIG='{"cluster": {"worker": ["a:2222", "b:2222"]},
                       "task": {"type": "worker", "index": 0}}'
    python scripts/train.py --corpus bach --out run --epochs 30 --seed 0

Worker 0 (the chief) writes the checkpoints and the model; the others write to a temporary
folder that they delete.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import tensorflow as tf
from numpy.typing import NDArray
from tqdm import tqdm

from ...errors import Cancelled, InputError
from ...files import write_text_atomic
from ...signals import STOP_SIGNALS
from ..model import FINAL_NAME, RbmModel, save_model
from ..roll import EMOTION_UNITS, Layout, tile_emotions
from .state import read_state, state_path

log = logging.getLogger(__name__)

FINAL_LR_FRACTION = 0.1  # cosine decay ends at a tenth of the initial rate


@dataclass
class TrainOptions:
    """Hyper-parameters and bookkeeping of a training run."""

    out: Path
    epochs: int = 30
    seed: int = 0
    hidden: int = 128
    batch_size: int = 64
    learning_rate: float = 0.05
    cd_steps: int = 1
    momentum: float = 0.5
    weight_decay: float = 1e-4
    checkpoint_every: int = 1
    joint: bool = True
    resume: bool = False
    quiet: bool = False
    source: dict[str, object] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)


@dataclass
class TrainSummary:
    """What a run did, for the end-of-run summary."""

    epochs_done: int
    epochs_run: int
    examples: int
    seconds: float
    examples_per_s: float
    reconstruction_error: float
    model_path: Path
    history: list[float]


def flops_per_example(visible: int, hidden: int, cd_steps: int) -> int:
    """Multiply-add FLOPs of one CD-k update per example (positive, k Gibbs steps, gradients)."""
    matmuls = 1 + 2 * cd_steps + 2
    return 2 * visible * hidden * matmuls


def make_strategy() -> tf.distribute.Strategy:
    """``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names a cluster, else the default."""
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief() -> bool:
    """Worker 0 (or a single process) owns the output folder."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    return task.get("type", "worker") in ("worker", "chief") and int(task.get("index", 0)) == 0


class RbmVariables(tf.Module):  # type: ignore[misc]  # TensorFlow is untyped: tf.Module is Any
    """The RBM's trainable state plus the counters that make resumed runs exact."""

    def __init__(
        self,
        visible: int,
        hidden: int,
        seed: int,
        visible_mean: NDArray[np.float32],
        note_units: int,
        context_units: int = 0,
    ) -> None:
        super().__init__(name="rbm")
        agg = tf.VariableAggregation.ONLY_FIRST_REPLICA  # updates are all-reduced by hand
        init = 0.01 * tf.random.stateless_normal([visible, hidden], seed=[seed, 0])
        mean = np.clip(visible_mean, 1e-3, 1 - 1e-3)
        self.weights = tf.Variable(init, name="weights", aggregation=agg)
        self.visible_bias = tf.Variable(
            np.log(mean / (1 - mean)).astype(np.float32), name="visible_bias", aggregation=agg
        )
        self.hidden_bias = tf.Variable(tf.zeros([hidden]), name="hidden_bias", aggregation=agg)
        self.emotion_note_weights = tf.Variable(
            tf.zeros([EMOTION_UNITS, note_units]), name="emotion_note_weights", aggregation=agg
        )
        self.context_hidden_weights = tf.Variable(
            tf.zeros([context_units, hidden]), name="context_hidden_weights", aggregation=agg
        )
        self.context_note_weights = tf.Variable(
            tf.zeros([context_units, note_units]), name="context_note_weights", aggregation=agg
        )
        self.velocities = [
            tf.Variable(tf.zeros_like(v), name=f"{v.name.split(':')[0]}_velocity", aggregation=agg)
            for v in self.params
        ]
        self.epoch = tf.Variable(0, dtype=tf.int64, name="epoch", aggregation=agg)
        self.step = tf.Variable(0, dtype=tf.int64, name="step", aggregation=agg)

    @property
    def params(self) -> tuple[tf.Variable, ...]:
        """Weights, visible bias, hidden bias, emotion-to-note-bias weights, context-to-hidden
        and context-to-note-bias weights."""
        return (
            self.weights,
            self.visible_bias,
            self.hidden_bias,
            self.emotion_note_weights,
            self.context_hidden_weights,
            self.context_note_weights,
        )

    def snapshot(self) -> list[NDArray[Any]]:
        """Copies of every variable (to roll back a half-finished epoch)."""
        return [v.numpy() for v in self.variables]

    def restore_snapshot(self, values: list[NDArray[Any]]) -> None:
        """Undo everything since :meth:`snapshot`."""
        for variable, value in zip(self.variables, values, strict=True):
            variable.assign(value)


def _bernoulli(probabilities: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    return tf.cast(
        tf.random.stateless_uniform(tf.shape(probabilities), seed) < probabilities, tf.float32
    )


def make_train_step(
    strategy: tf.distribute.Strategy,
    rbm: RbmVariables,
    layout: Layout,
    options: TrainOptions,
    global_batch: int,
) -> Callable[..., Any]:
    """A ``tf.function`` doing one CD-k update on a distributed global batch.

    Returns a function ``(notes, emotions, memory, learning_rate) -> summed squared error``
    (``memory``: each window's context vector).
    """
    per_step = np.zeros(layout.units_per_step, dtype=bool)
    per_step[layout.note_units :] = True
    emotion_mask = tf.constant(np.tile(per_step, layout.window_steps)[None, :])
    momentum, decay, k = options.momentum, options.weight_decay, options.cd_steps
    with_memory = layout.context_units > 0

    def replica_step(
        notes: tf.Tensor, emotions: tf.Tensor, memory: tf.Tensor, learning_rate: tf.Tensor
    ) -> tf.Tensor:
        context = tf.distribute.get_replica_context()
        batch = tf.shape(notes)[0]
        steps = layout.window_steps
        notes = tf.reshape(tf.cast(notes, tf.float32), [batch, steps, layout.note_units])
        emotions = tf.reshape(emotions, [batch, steps, EMOTION_UNITS])
        v0 = tf.reshape(
            tf.concat([notes, tf.tile(emotions, [1, 1, layout.emotion_copies])], axis=2),
            [batch, layout.visible_units],
        )
        weights, visible_bias, hidden_bias, emotion_note_weights, context_hidden, context_note = (
            rbm.params
        )
        memory = tf.reshape(memory, [batch, layout.context_units])
        # Per-timestep note-bias shift from each timestep's emotion (zero for the emotion units)
        # and, the same at every timestep, from the window's context. (Without memory the
        # context ops are left out: oneDNN aborts on a matmul with an empty dimension.)
        note_shift = tf.einsum("bte,eu->btu", emotions, emotion_note_weights)
        if with_memory:
            note_shift += tf.matmul(memory, context_note)[:, None, :]
            hidden_bias = hidden_bias + tf.matmul(memory, context_hidden)
        conditioned_bias = visible_bias + tf.reshape(
            tf.pad(note_shift, [[0, 0], [0, 0], [0, layout.emotion_units]]),
            [batch, layout.visible_units],
        )
        replica = tf.cast(context.replica_id_in_sync_group, tf.int64)
        stream = rbm.step * 4096 + replica * 64  # distinct random stream per step and replica
        hidden_p0 = tf.sigmoid(tf.matmul(v0, weights) + hidden_bias)
        hidden_p, visible = hidden_p0, v0
        for i in range(k):
            hidden = _bernoulli(hidden_p, tf.stack([tf.cast(options.seed, tf.int64), stream + i]))
            visible_p = tf.sigmoid(tf.matmul(hidden, weights, transpose_b=True) + conditioned_bias)
            # Conditional training keeps the emotions clamped, as generation does.
            visible = visible_p if options.joint else tf.where(emotion_mask, v0, visible_p)
            if i == 0:
                squared_error = tf.reduce_sum(tf.square(tf.where(emotion_mask, v0, visible) - v0))
            hidden_p = tf.sigmoid(tf.matmul(visible, weights) + hidden_bias)
        # One matmul for the positive minus negative statistics.
        stats = tf.matmul(
            tf.concat([v0, -visible], 0), tf.concat([hidden_p0, hidden_p], 0), transpose_a=True
        )
        notes_change = notes - tf.reshape(visible, [batch, steps, -1])[..., : layout.note_units]
        # A joint RBM has no emotion -> note-bias weights: they stay zero.
        note_weight_sums = tf.einsum("bte,btu->eu", emotions, notes_change) * (
            0.0 if options.joint else 1.0
        )
        sums = [
            stats,
            tf.reduce_sum(v0 - visible, 0),
            tf.reduce_sum(hidden_p0 - hidden_p, 0),
            note_weight_sums,
        ]
        if with_memory:
            sums += [
                tf.matmul(memory, hidden_p0 - hidden_p, transpose_a=True),
                tf.matmul(memory, tf.reduce_sum(notes_change, 1), transpose_a=True),
            ]
        else:
            sums += [tf.zeros_like(context_hidden), tf.zeros_like(context_note)]
        sums = context.all_reduce(tf.distribute.ReduceOp.SUM, sums)
        gradients = [s / global_batch for s in sums]
        gradients[0] -= decay * weights
        for param, velocity, gradient in zip(rbm.params, rbm.velocities, gradients, strict=True):
            velocity.assign(momentum * velocity + learning_rate * gradient)
            param.assign_add(velocity)
        rbm.step.assign_add(1)
        return squared_error

    @tf.function  # type: ignore[untyped-decorator]  # TensorFlow is untyped
    def train_step(
        notes: tf.Tensor, emotions: tf.Tensor, memory: tf.Tensor, learning_rate: tf.Tensor
    ) -> tf.Tensor:
        per_replica = strategy.run(replica_step, args=(notes, emotions, memory, learning_rate))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    step: Callable[..., Any] = train_step
    return step


def learning_rate_at(epoch: int, options: TrainOptions) -> float:
    """Cosine decay from ``learning_rate`` to a tenth of it over the run."""
    low = options.learning_rate * FINAL_LR_FRACTION
    fraction = epoch / max(1, options.epochs - 1)
    return low + 0.5 * (options.learning_rate - low) * (1 + math.cos(math.pi * fraction))


def _epoch_batches(count: int, batch: int, seed: int, epoch: int) -> Iterator[NDArray[np.int64]]:
    # Seeded by (seed, epoch) so a resumed run sees the same order as an uninterrupted one.
    order = np.random.default_rng([seed, epoch]).permutation(count)
    for start in range(0, count - batch + 1, batch):
        yield order[start : start + batch]


def _check_shape(state: dict[str, Any], layout: Layout, hidden: int, out: Path) -> None:
    saved_layout = Layout(*state["layout"])
    if saved_layout != layout or int(state["hidden"]) != hidden:
        raise InputError(
            f"The checkpoint in {out} has another shape ({saved_layout.describe()}, "
            f"{state['hidden']} hidden units) than this run ({layout.describe()}, {hidden}); "
            "use the same --lowest-pitch/--pitch-count/--window/--hidden or another --out."
        )


def _restore(checkpoint: tf.train.Checkpoint, prefix: Path) -> None:
    if not Path(f"{prefix}.index").is_file():
        raise InputError(f"Checkpoint {prefix} is missing; remove training.json or --resume.")
    try:
        checkpoint.read(str(prefix)).assert_existing_objects_matched()
    except (tf.errors.OpError, ValueError, AssertionError, IndexError, KeyError, OSError) as exc:
        reason = (
            "has another shape"
            if "shape" in str(exc).lower()
            else "is damaged or was written by an older Moodscore"
        )
        raise InputError(
            f"Checkpoint {prefix} {reason} and cannot be resumed; choose another --out."
        ) from None


class _Writer:
    """Writes checkpoints and exports; non-chief workers write to a throwaway folder."""

    def __init__(self, out: Path, chief: bool) -> None:
        self.out, self.chief = out, chief
        self.folder = out if chief else Path(tempfile.mkdtemp(prefix="moodscore-worker-"))

    def save(
        self,
        checkpoint: tf.train.Checkpoint,
        rbm: RbmVariables,
        layout: Layout,
        name: str,
        state: dict[str, Any],
        visible_mean: NDArray[np.float32],
        info: dict[str, str],
    ) -> Path:
        checkpoint.write(str(self.folder / name))  # collective under MultiWorkerMirrored
        path = self.folder / f"{name}.npz"
        if self.chief:
            save_model(
                path,
                RbmModel(
                    weights=rbm.weights.numpy(),
                    visible_bias=rbm.visible_bias.numpy(),
                    hidden_bias=rbm.hidden_bias.numpy(),
                    visible_mean=visible_mean,
                    layout=layout,
                    info=info,
                    emotion_note_weights=rbm.emotion_note_weights.numpy(),
                    context_hidden_weights=rbm.context_hidden_weights.numpy(),
                    context_note_weights=rbm.context_note_weights.numpy(),
                ),
            )
            write_text_atomic(state_path(self.out), json.dumps(state, indent=2) + "\n")
        return path

    def close(self) -> None:
        if not self.chief:
            shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def _interrupt_flag() -> Iterator[list[bool]]:
    """Turn the stop signals (SIGINT, SIGTERM and, where they exist, SIGHUP or SIGBREAK) into
    a flag checked between batches, so a checkpoint can be written; a second signal stops at
    once."""
    flag = [False]

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag[0]:
            raise KeyboardInterrupt
        flag[0] = True

    try:
        previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    except ValueError:  # not the main thread: no signal handling
        yield flag
        return
    try:
        yield flag
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def train(
    notes: NDArray[np.uint8],
    emotions: NDArray[np.float32],
    layout: Layout,
    options: TrainOptions,
    context: NDArray[np.float32] | None = None,
) -> TrainSummary:
    """Train (or resume) an RBM on windows from :func:`core.rbm.training.data.build_windows`;
    ``context`` holds each window's context vector (``build_training_set``) for a model with
    memory.

    Raises
    ------
    InputError
        For an output folder holding another run (without ``resume``), or a checkpoint that
        is damaged or of another shape. Nothing is written in those cases.
    Cancelled
        On Ctrl-C, after writing a checkpoint of the finished epochs.
    """
    strategy = make_strategy()  # must come before any other TensorFlow work
    tf.config.experimental.enable_op_determinism()
    out, chief = Path(options.out), is_chief()
    state = read_state(out)
    if state and not options.resume:
        raise InputError(
            f"{out} already holds a training run; pass --resume to continue it or choose "
            "another --out."
        )
    if state:
        _check_shape(state, layout, options.hidden, out)
    count = len(notes)
    if context is None:
        context = np.zeros((count, layout.context_units), dtype=np.float32)
    global_batch = min(options.batch_size, count)
    visible_mean = (
        np.concatenate(
            [
                notes.reshape(count, layout.window_steps, layout.note_units).mean(axis=0),
                tile_emotions(emotions.mean(axis=0), layout),
            ],
            axis=1,
        )
        .reshape(-1)
        .astype(np.float32)
    )
    with strategy.scope():
        rbm = RbmVariables(
            layout.visible_units,
            options.hidden,
            options.seed,
            visible_mean,
            layout.note_units,
            layout.context_units,
        )
    checkpoint = tf.train.Checkpoint(rbm=rbm)
    if state:
        _restore(checkpoint, out / state["latest"])
        log.info("Resuming %s after epoch %d.", out, int(rbm.epoch.numpy()))
    if chief:
        out.mkdir(parents=True, exist_ok=True)
    writer = _Writer(out, chief)
    train_step = make_train_step(strategy, rbm, layout, options, global_batch)
    replicas = strategy.num_replicas_in_sync
    units = layout.window_steps * layout.note_units

    def distribute(array: NDArray[Any]) -> Any:
        def shard(context: tf.distribute.InputReplicaContext) -> tf.Tensor:
            return tf.constant(array[context.replica_id_in_sync_group :: replicas])

        return strategy.experimental_distribute_values_from_function(shard)

    def save(name: str, error: float) -> Path:
        record = {
            "latest": name,
            "epoch": int(rbm.epoch.numpy()),
            "layout": list(asdict(layout).values()),
            "hidden": options.hidden,
            "seed": options.seed,
            "source": options.source,
            "history": history,
        }
        info = {
            "epochs": str(record["epoch"]),
            "hidden": str(options.hidden),
            "cd_steps": str(options.cd_steps),
            "seed": str(options.seed),
            "source": json.dumps(options.source),
            "reconstruction_error": f"{error:.6f}",
            **options.info,
        }
        return writer.save(checkpoint, rbm, layout, name, record, visible_mean, info)

    history: list[float] = list(state.get("history", [])) if state else []
    first_epoch = int(rbm.epoch.numpy())
    start_time, examples_seen = time.perf_counter(), 0
    error = history[-1] if history else float("nan")
    model_path = out / f"{FINAL_NAME}.npz"
    try:
        with _interrupt_flag() as interrupted:
            for epoch in range(first_epoch, options.epochs):
                snapshot = rbm.snapshot()
                rate = tf.constant(learning_rate_at(epoch, options), tf.float32)
                batches = list(_epoch_batches(count, global_batch, options.seed, epoch))
                bar = tqdm(
                    batches,
                    desc=f"epoch {epoch + 1}/{options.epochs}",
                    unit="batch",
                    leave=False,
                    disable=options.quiet or not chief,
                    dynamic_ncols=True,
                )
                squared, epoch_start = 0.0, time.perf_counter()
                for done, index in enumerate(bar, start=1):
                    if interrupted[0]:
                        rbm.restore_snapshot(snapshot)
                        path = save(f"epoch_{epoch}", error) if epoch > 0 else None
                        where = f"saved {path.name}" if path else "no epoch had finished"
                        raise Cancelled(
                            f"Training interrupted during epoch {epoch + 1}; {where}; run again "
                            "with --resume to continue."
                        )
                    squared += float(
                        train_step(
                            distribute(notes[index]),
                            distribute(emotions[index]),
                            distribute(context[index]),
                            rate,
                        )
                    )
                    seen = done * global_batch
                    bar.set_postfix(
                        loss=f"{squared / (seen * units):.4f}",
                        ex_s=f"{seen / (time.perf_counter() - epoch_start):.0f}",
                    )
                bar.close()
                examples_seen += len(batches) * global_batch
                error = squared / (len(batches) * global_batch * units)
                history.append(error)
                rbm.epoch.assign(epoch + 1)
                log.info(
                    "epoch %d/%d  reconstruction error %.5f  lr %.4f  %.0f examples/s",
                    epoch + 1,
                    options.epochs,
                    error,
                    float(rate),
                    len(batches) * global_batch / (time.perf_counter() - epoch_start),
                )
                if (epoch + 1) % options.checkpoint_every == 0 and epoch + 1 < options.epochs:
                    save(f"epoch_{epoch + 1}", error)
            model_path = save(FINAL_NAME, error)
    finally:
        writer.close()
    seconds = time.perf_counter() - start_time
    return TrainSummary(
        epochs_done=int(rbm.epoch.numpy()),
        epochs_run=int(rbm.epoch.numpy()) - first_epoch,
        examples=count,
        seconds=seconds,
        examples_per_s=examples_seen / max(seconds, 1e-9),
        reconstruction_error=error,
        model_path=model_path,
        history=history,
    )
