"""The exported RBM (``.npz``), Gibbs sampling in numpy, and which model file to use.

Sampling never needs TensorFlow: training exports the weights with :func:`save_model` and the
generators read them back with :func:`load_model` (``allow_pickle=False``).
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..files import check_input_file, write_bytes_atomic
from .roll import EMOTION_UNITS, Layout, tile_emotions

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger(__name__)

#: 2 adds ``emotion_note_weights``; version-1 files load with those weights at zero (the
#: seed's RBM, which they are). 3 adds the memory: ``context_hidden_weights`` and
#: ``context_note_weights`` and a fifth layout value (``history_bars``).
FORMAT_VERSION = 3
CHECKPOINT_DIR = "parameter_checkpoints"  # the seed's folder name, looked up in the cwd
FINAL_NAME = "trained_system"  # the seed's name of the final checkpoint
SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "data" / "rbm_default.npz"
_EPOCH_NPZ = re.compile(r"^epoch_(\d+)\.npz$")


@dataclass
class RbmModel:
    """A Bernoulli RBM over ``layout.visible_units`` visible and ``hidden`` hidden units.

    The emotion units' rows of ``weights`` drive the hidden biases (``b_h + A e``). In a
    conditional model ``emotion_note_weights`` ``B`` (shape ``(2, note_units)``) also drives
    the note units' biases at every timestep from that timestep's emotion
    (``b_v,t + e_t B``, Taylor & Hinton's conditional RBM); it is zero in a joint model.
    ``visible_mean`` is the training data's mean of every visible unit: the noise that
    RBM-Sampling starts from and the per-note-frequency baseline of the benchmark.
    With memory (``layout.history_bars > 0``) the context vector ``c`` of
    :func:`~core.rbm.roll.bar_context` adds ``c C_h`` to the hidden biases
    (``context_hidden_weights``, ``(context_units, hidden)``) and ``c C_v`` to every timestep's
    note biases (``context_note_weights``, ``(context_units, note_units)``): Taylor & Hinton's
    autoregressive connections, from a summary of the previous windows.
    """

    weights: NDArray[np.float32]
    visible_bias: NDArray[np.float32]
    hidden_bias: NDArray[np.float32]
    visible_mean: NDArray[np.float32]
    layout: Layout
    info: dict[str, str] = field(default_factory=dict)
    emotion_note_weights: NDArray[np.float32] | None = None
    context_hidden_weights: NDArray[np.float32] | None = None
    context_note_weights: NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        if self.emotion_note_weights is None:
            self.emotion_note_weights = np.zeros(
                (EMOTION_UNITS, self.layout.note_units), dtype=np.float32
            )
        context = self.layout.context_units
        if self.context_hidden_weights is None:
            self.context_hidden_weights = np.zeros((context, self.hidden), dtype=np.float32)
        if self.context_note_weights is None:
            self.context_note_weights = np.zeros(
                (context, self.layout.note_units), dtype=np.float32
            )

    @property
    def hidden(self) -> int:
        """Number of hidden units."""
        return int(self.weights.shape[1])

    def emotion_mask(self) -> NDArray[np.bool_]:
        """Boolean mask of the emotion units within a visible vector."""
        per_step = np.zeros(self.layout.units_per_step, dtype=bool)
        per_step[self.layout.note_units :] = True
        return np.tile(per_step, self.layout.window_steps)


def save_model(path: str | Path, model: RbmModel) -> None:
    """Write ``model`` as a compressed ``.npz`` atomically (float16 weights keep it small)."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        format_version=np.int64(FORMAT_VERSION),
        weights=model.weights.astype(np.float16),
        visible_bias=model.visible_bias.astype(np.float32),
        hidden_bias=model.hidden_bias.astype(np.float32),
        visible_mean=model.visible_mean.astype(np.float32),
        emotion_note_weights=np.asarray(model.emotion_note_weights, dtype=np.float32),
        context_hidden_weights=np.asarray(model.context_hidden_weights, dtype=np.float16),
        context_note_weights=np.asarray(model.context_note_weights, dtype=np.float16),
        layout=model.layout.as_array(),
        info_keys=np.array(list(model.info), dtype=np.str_),
        info_values=np.array([str(v) for v in model.info.values()], dtype=np.str_),
    )
    write_bytes_atomic(path, buffer.getvalue())


#: Members of a model file: dtype kinds accepted and number of dimensions.
_MEMBERS: dict[str, tuple[str, int]] = {
    "format_version": ("iu", 0),
    "weights": ("f", 2),
    "visible_bias": ("f", 1),
    "hidden_bias": ("f", 1),
    "visible_mean": ("f", 1),
    "emotion_note_weights": ("f", 2),
    "context_hidden_weights": ("f", 2),
    "context_note_weights": ("f", 2),
    "layout": ("iu", 1),
    "info_keys": ("U", 1),
    "info_values": ("U", 1),
}
_REQUIRED = ("format_version", "weights", "visible_bias", "hidden_bias", "visible_mean", "layout")
#: Largest member read: the weights of the largest model ``moodscore train`` makes (4096
#: hidden units over the shipped layout's 11 008 visible units, float16) are 90 MB; a member
#: claiming more is refused unread.
MAX_MEMBER_BYTES = 128 * 1024 * 1024


def load_model(path: str | Path) -> RbmModel:
    """Load a model written by :func:`save_model`, checking it member by member first.

    Every member's name, dtype and shape is read from its ``.npy`` header, and its size from
    the zip directory, before any array is read; unknown members are never read. Arrays must
    be finite and consistent with the stored layout.

    Raises
    ------
    InputError
        If the file is missing, not an ``.npz`` or not a consistent RBM model.
    """
    path = Path(path)
    check_input_file(path, "RBM model", "pass an .npz file written by moodscore train")
    if not zipfile.is_zipfile(path):
        raise InputError(
            f"RBM model {path} is not a readable .npz file (not a zip archive); pass a model "
            "written by moodscore train."
        )
    try:
        arrays = _read_members(path)
    except _Damaged as exc:
        raise InputError(
            f"RBM model {path} is damaged ({exc}); retrain it or pass another --model."
        ) from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise InputError(
            f"RBM model {path} is not a readable .npz file ({type(exc).__name__}); retrain it "
            "or pass another --model."
        ) from None
    if int(arrays["format_version"]) > FORMAT_VERSION:
        raise InputError(f"RBM model {path} was written by a newer Moodscore; update Moodscore.")
    try:
        return _assemble(arrays)
    except _Damaged as exc:
        raise InputError(
            f"RBM model {path} is damaged ({exc}); retrain it or pass another --model."
        ) from None


class _Damaged(Exception):
    """A model member is missing, malformed or inconsistent (the message says which)."""


def _read_members(path: Path) -> dict[str, NDArray[Any]]:
    arrays: dict[str, NDArray[Any]] = {}
    with zipfile.ZipFile(path) as archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        missing = [name for name in _REQUIRED if name not in members]
        if missing:
            raise _Damaged(f"missing {', '.join(missing)}; it is not a Moodscore RBM model")
        for name, info in members.items():
            if name not in _MEMBERS:
                log.debug("Ignoring member %s of %s unread.", info.filename, path)
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                raise _Damaged(
                    f"{name} claims {info.file_size / 2**20:.0f} MB, over the "
                    f"{MAX_MEMBER_BYTES // 2**20} MB limit"
                )
            with archive.open(info) as handle:
                arrays[name] = _read_member(handle, name, info.file_size)
    return arrays


def _read_member(handle: IO[bytes], name: str, size: int) -> NDArray[Any]:
    """One ``.npy`` member, its header checked before its data is read."""
    npy = np.lib.format
    # NumPy's stubs leave np.lib.format's functions unannotated.
    read_magic: Callable[[IO[bytes]], tuple[int, int]] = npy.read_magic
    readers: dict[
        tuple[int, int], Callable[[IO[bytes]], tuple[tuple[int, ...], bool, np.dtype[Any]]]
    ] = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
    try:
        reader = readers.get(read_magic(handle))
        if reader is None:
            raise ValueError
        shape, fortran, dtype = reader(handle)
    except ValueError:
        raise _Damaged(f"{name} is not a NumPy array") from None
    kinds, ndim = _MEMBERS[name]
    if dtype.hasobject or dtype.kind not in kinds or len(shape) != ndim:
        raise _Damaged(f"{name} is {dtype} with shape {shape}, expected another type or shape")
    if math.prod(shape) * dtype.itemsize > size:
        raise _Damaged(f"{name} declares more data than the file holds")
    count = math.prod(shape)
    data = handle.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise _Damaged(f"{name} is truncated")
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def _assemble(arrays: dict[str, NDArray[Any]]) -> RbmModel:
    """The model from checked members: layout, shapes, finite values, matching info."""
    stored = [int(x) for x in arrays["layout"]]
    # Older models store (lowest, count, window); newer ones add the emotion copies, then the
    # windows of memory.
    if len(stored) not in (3, 4, 5):
        raise _Damaged(f"its layout has {len(stored)} values")
    try:
        layout = Layout(*stored)
    except InputError:
        raise _Damaged("its layout is out of range") from None
    weights = arrays["weights"].astype(np.float32)
    visible, hidden = layout.visible_units, weights.shape[1]
    expected = {
        "weights": (visible, hidden),
        "visible_bias": (visible,),
        "visible_mean": (visible,),
        "hidden_bias": (hidden,),
    }
    if "emotion_note_weights" in arrays:
        expected["emotion_note_weights"] = (EMOTION_UNITS, layout.note_units)
    if layout.context_units:
        expected["context_hidden_weights"] = (layout.context_units, hidden)
        expected["context_note_weights"] = (layout.context_units, layout.note_units)
    for name in ("context_hidden_weights", "context_note_weights"):
        if name in expected and name not in arrays:
            raise _Damaged(f"missing {name}, which its layout needs")
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise _Damaged(f"{name} has shape {arrays[name].shape}, the layout needs {shape}")
        if not np.all(np.isfinite(arrays[name])):
            raise _Damaged(f"{name} holds NaN or infinite values")
    keys, values = arrays.get("info_keys", np.array([])), arrays.get("info_values", np.array([]))
    if keys.shape != values.shape:
        raise _Damaged(f"{len(keys)} info keys but {len(values)} info values")
    return RbmModel(
        weights=weights,
        visible_bias=arrays["visible_bias"].astype(np.float32),
        hidden_bias=arrays["hidden_bias"].astype(np.float32),
        visible_mean=arrays["visible_mean"].astype(np.float32),
        layout=layout,
        info={str(k): str(v) for k, v in zip(keys, values, strict=True)},
        emotion_note_weights=(
            arrays["emotion_note_weights"].astype(np.float32)
            if "emotion_note_weights" in arrays
            else None
        ),
        context_hidden_weights=_optional(arrays, "context_hidden_weights", layout.context_units),
        context_note_weights=_optional(arrays, "context_note_weights", layout.context_units),
    )


def _optional(arrays: dict[str, NDArray[Any]], name: str, rows: int) -> NDArray[np.float32] | None:
    """A context member as float32 when the layout has a context, else ``None`` (zeros)."""
    return arrays[name].astype(np.float32) if rows and name in arrays else None


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_folder_model(folder: Path) -> Path | None:
    """The model to use from a training output folder: ``trained_system.npz``, else the latest
    ``epoch_<n>.npz``; ``None`` if it holds neither."""
    final = folder / f"{FINAL_NAME}.npz"
    if final.is_file():
        return final
    epochs = [
        (int(m.group(1)), p) for p in folder.glob("epoch_*.npz") if (m := _EPOCH_NPZ.match(p.name))
    ]
    return max(epochs)[1] if epochs else None


def resolve_model(config: Config, cwd: str | Path | None = None) -> tuple[Path, str]:
    """Which model file the RBM generators use, and its sha256 (for ``score.json``).

    Order, as in the seed: ``config.rbm.model`` (``--model PATH``; a file, or a training output
    folder), then ``parameter_checkpoints/`` in the working directory, then the shipped
    ``core/data/rbm_default.npz``.
    """
    chosen: Path | None = None
    if config.rbm.model:
        given = Path(config.rbm.model).expanduser()
        chosen = checkpoint_folder_model(given) if given.is_dir() else given
        if chosen is None or not chosen.is_file():
            raise InputError(
                f"RBM model {given} does not exist or holds no exported .npz; check --model."
            )
    else:
        folder = Path(cwd or Path.cwd()) / CHECKPOINT_DIR
        if folder.is_dir():
            chosen = checkpoint_folder_model(folder)
            if chosen is None:
                log.warning("%s holds no exported .npz model; using the shipped model.", folder)
        chosen = chosen or SHIPPED_MODEL
        if not chosen.is_file():
            raise InputError(
                f"The shipped RBM model {chosen} is missing; reinstall Moodscore or pass --model."
            )
    return chosen.resolve(), file_sha256(chosen)


def sigmoid(x: NDArray[np.floating[Any]]) -> NDArray[np.floating[Any]]:
    """Logistic function."""
    # tanh form: no overflow warnings for large |x|
    y: NDArray[np.floating[Any]] = 0.5 * (1.0 + np.tanh(0.5 * x))
    return y


def run_chain(
    model: RbmModel,
    start_notes: NDArray[Any],
    emotions: NDArray[Any],
    gibbs_steps: int,
    rng: np.random.Generator,
    *,
    context: NDArray[Any] | None = None,
    note_bias: NDArray[Any] | None = None,
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """Run a Gibbs chain with the emotion units (and the context) clamped.

    Parameters
    ----------
    model
        The RBM.
    start_notes
        Initial note units, shape ``(window_steps, note_units)``, values in {0, 1}.
    emotions
        Clamped ``(arousal, valence)`` per timestep, shape ``(window_steps, 2)``.
    gibbs_steps
        Number of alternating hidden/visible updates (the seed's k = 10).
    rng
        Source of randomness (seeded by the caller for reproducible output).
    context
        The window's context vector (:func:`~core.rbm.roll.bar_context`) for a model with
        memory; zeros when omitted.
    note_bias
        Extra log-odds added to the note units, ``(window_steps, note_units)``: the sampler's
        constraints (register, cadence chords), which reweight what the model proposes.

    Returns
    -------
    state, probabilities
        The chain's last sampled note units (``uint8``) and the probabilities they were drawn
        from (``float32``), both of shape ``(window_steps, note_units)``.
    """
    layout = model.layout
    emotion = model.emotion_mask()
    w_notes, w_emotion = model.weights[~emotion], model.weights[emotion]
    emotions = np.asarray(emotions, dtype=np.float32)
    # Clamped emotions add the same input to the hidden layer (every copy) and, per timestep,
    # to the note units' biases at every Gibbs step.
    clamped = tile_emotions(emotions, layout).reshape(-1)
    hidden_drive = model.hidden_bias + clamped @ w_emotion
    notes_bias = (
        model.visible_bias[~emotion].reshape(layout.window_steps, layout.note_units)
        + emotions @ model.emotion_note_weights
    )
    if layout.context_units and context is not None:
        context = np.asarray(context, dtype=np.float32)
        hidden_drive = hidden_drive + context @ model.context_hidden_weights
        notes_bias = notes_bias + context @ model.context_note_weights
    if note_bias is not None:
        notes_bias = notes_bias + note_bias
    notes_bias = notes_bias.reshape(-1)
    notes = start_notes.reshape(-1).astype(np.float32)
    notes_p = notes
    for _ in range(max(1, gibbs_steps)):
        hidden_p = sigmoid(hidden_drive + notes @ w_notes)
        hidden = (rng.random(hidden_p.shape) < hidden_p).astype(np.float32)
        notes_p = sigmoid(notes_bias + w_notes @ hidden)
        notes = (rng.random(notes_p.shape) < notes_p).astype(np.float32)
    shape = (layout.window_steps, layout.note_units)
    return notes.astype(np.uint8).reshape(shape), notes_p.astype(np.float32).reshape(shape)


def sample_window(
    model: RbmModel,
    start_notes: NDArray[Any],
    emotions: NDArray[Any],
    gibbs_steps: int,
    rng: np.random.Generator,
    *,
    mean_field_last: bool = False,
) -> NDArray[np.uint8]:
    """The notes of one window: :func:`run_chain`'s last sample, or with ``mean_field_last``
    the notes whose last probability is above one half (a mean-field last step, without the
    independent per-unit noise of a sample). ``uint8``, shape ``(window_steps, note_units)``."""
    state, probabilities = run_chain(model, start_notes, emotions, gibbs_steps, rng)
    return (probabilities > 0.5).astype(np.uint8) if mean_field_last else state


def noise_notes(model: RbmModel, rng: np.random.Generator) -> NDArray[np.uint8]:
    """Random note units drawn from the training data's per-unit frequencies."""
    mean = model.visible_mean[~model.emotion_mask()]
    notes = (rng.random(mean.shape) < mean).astype(np.uint8)
    return notes.reshape(model.layout.window_steps, model.layout.note_units)
