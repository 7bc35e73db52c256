"""The networks `cnnkit train` builds, their training/evaluation mode, saving and loading them.

    impl = load_impl("solutions")
    model = build_model(impl, "cnn-bn", seed=0)     # "cnn", "cnn-bn" or "dense"
    with eval_mode(model):                          # BatchNorm2D: running statistics
        logits = model.forward(x)
    save_model(path, model, {"kind": "cnn-bn"})     # parameters, buffers, architecture JSON
    model, architecture = load_model(path, impl)
"""

from __future__ import annotations

import importlib
import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .files import replace_atomically
from .paths import import_scratchcnn, resolve_impl

INPUT_SHAPE = (1, 28, 28)
NUM_CLASSES = 10
BASELINE_HIDDEN = 256  # 784-256-10: 203,530 parameters, the same order as the guide's CNN
MODELS = ("cnn", "cnn-bn", "dense")
FORMAT = "cnnkit-model-1"
# Layer type -> the scratchcnn module that defines it (blocks.py: the bonus layers).
LAYER_MODULES = {"Conv2D": "layers", "Dense": "layers", "MaxPool2D": "layers", "ReLU": "layers",
                 "Flatten": "layers", "BatchNorm2D": "blocks"}


def load_impl(spec: str | os.PathLike) -> SimpleNamespace:
    """The `scratchcnn` of `spec` ("solutions", "assignments" or a folder): layers, model, train.
    (The bonus blocks.py is imported only by a model that uses it.)"""
    return import_scratchcnn(resolve_impl(spec), ("layers", "model", "train"))


def build_model(impl, kind: str, seed: int):
    """The guide's CNN ("cnn"), the same with batch normalisation ("cnn-bn", bonus Phase 12) or
    the dense baseline ("dense"), initialised from `seed`."""
    rng = np.random.default_rng(seed)
    if kind == "cnn":
        return impl.model.build_guide_cnn(rng=rng)
    if kind == "cnn-bn":
        if not hasattr(impl.model, "build_guide_cnn_bn"):
            raise ValueError(f"model 'cnn-bn' needs build_guide_cnn_bn in "
                             f"{impl.folder / 'scratchcnn' / 'model.py'} (bonus Phase 12)")
        return impl.model.build_guide_cnn_bn(rng=rng)
    if kind == "dense":
        L = impl.layers
        features = math.prod(INPUT_SHAPE)
        return impl.model.CNN([L.Flatten(), L.Dense(features, BASELINE_HIDDEN, rng=rng), L.ReLU(),
                               L.Dense(BASELINE_HIDDEN, NUM_CLASSES, rng=rng)])
    raise ValueError(f"model must be one of {', '.join(map(repr, MODELS))} (got {kind!r})")


def num_parameters(model) -> int:
    return int(sum(p.size for p in model.params.values()))


@contextmanager
def eval_mode(model) -> Iterator[None]:
    """Evaluation mode inside the block, training mode after, for a model (or a data-parallel
    wrapper) that has modes (`eval()` / `train()`): BatchNorm2D then normalises with its running
    statistics and leaves them alone. Models without modes are used as they are."""
    if not hasattr(model, "eval"):
        yield
        return
    model.eval()
    try:
        yield
    finally:
        model.train()


# ---------------------------------------------------------------------------------------------
# Saving and loading: parameters and buffers plus the architecture as JSON, no pickle


def layer_spec(layer) -> dict:
    """A layer as a JSON-able dict from which `build_layer` rebuilds it."""
    kind = type(layer).__name__
    if kind == "Conv2D":
        F, C, kh, kw = layer.params["w"].shape
        return {"type": kind, "in_channels": C, "out_channels": F, "kernel_size": [kh, kw],
                "stride": layer.stride, "padding": layer.padding}
    if kind == "Dense":
        D, M = layer.params["w"].shape
        return {"type": kind, "in_features": D, "out_features": M}
    if kind == "MaxPool2D":
        return {"type": kind, "size": layer.size, "stride": layer.stride}
    if kind == "BatchNorm2D":
        return {"type": kind, "num_channels": int(layer.params["gamma"].shape[0]),
                "momentum": layer.momentum, "eps": layer.eps}
    if kind in ("ReLU", "Flatten"):
        return {"type": kind}
    raise ValueError(f"cannot save a layer of type {kind}: only {', '.join(LAYER_MODULES)} "
                     "are known")


def build_layer(impl, spec: dict):
    """The layer `spec` (from `layer_spec`) describes, built with `impl`'s classes."""
    kind = spec["type"]
    if kind not in LAYER_MODULES:
        raise ValueError(f"unknown layer type {kind!r} in the saved architecture")
    name = f"{impl.layers.__package__}.{LAYER_MODULES[kind]}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name:  # the module exists but imports something missing: its own error
            raise
        raise ValueError(f"the saved architecture has a {kind} layer, which needs "
                         f"{impl.folder / 'scratchcnn' / (LAYER_MODULES[kind] + '.py')}") from None
    args = {k: v for k, v in spec.items() if k != "type"}
    if kind == "Conv2D":
        args["kernel_size"] = tuple(args["kernel_size"])
    return getattr(module, kind)(**args)


def model_buffers(model) -> dict[str, np.ndarray]:
    """The model's buffers ("<layer>.<name>": running statistics); {} for a model without any."""
    return dict(getattr(model, "buffers", {}))


def save_model(path: Path, model, metadata: dict) -> None:
    """Write the model's parameters ("param:<layer>.<name>"), buffers ("buffer:<layer>.<name>")
    and architecture JSON to `path` (.npz), atomically."""
    architecture = {"format": FORMAT, "input_shape": list(INPUT_SHAPE),
                    "layers": [layer_spec(layer) for layer in model.layers], "metadata": metadata}
    arrays = {f"param:{k}": v for k, v in model.params.items()}
    arrays |= {f"buffer:{k}": v for k, v in model_buffers(model).items()}
    arrays["architecture"] = np.array(json.dumps(architecture))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    replace_atomically(path, write)


def load_model(path: Path, impl):
    """Rebuild a model saved by `save_model` with `impl`'s layers; returns (model, architecture)."""
    with np.load(path, allow_pickle=False) as saved:
        if "architecture" not in saved.files:
            raise ValueError(f"{path} is not a cnnkit model (no architecture entry)")
        architecture = json.loads(str(saved["architecture"]))
        if architecture.get("format") != FORMAT:
            raise ValueError(f"{path}: format must be {FORMAT!r} "
                             f"(got {architecture.get('format')!r})")
        model = impl.model.CNN([build_layer(impl, spec) for spec in architecture["layers"]])
        _fill(path, saved, "param", model.params)
        _fill(path, saved, "buffer", model_buffers(model))
    return model, architecture


def _fill(path: Path, saved, kind: str, arrays: dict[str, np.ndarray]) -> None:
    """Copy the saved "<kind>:<name>" entries into `arrays` (the model's own) in place; a
    ValueError if the names or shapes differ from the architecture's."""
    stored = {k.removeprefix(f"{kind}:") for k in saved.files if k.startswith(f"{kind}:")}
    if stored != set(arrays):
        raise ValueError(f"{path}: {kind}s {sorted(stored)} don't match the architecture's "
                         f"{sorted(arrays)}")
    for name, array in arrays.items():
        value = saved[f"{kind}:{name}"]
        if value.shape != array.shape:
            raise ValueError(f"{path}: {kind} {name} must have shape {array.shape} "
                             f"(got {value.shape})")
        array[...] = value
