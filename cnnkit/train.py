"""`cnnkit train` and `cnnkit evaluate`: train a scratchcnn on MNIST, save it, evaluate it.

    cnnkit train                          # the reference, the guide's CNN, full MNIST, 3 epochs
    cnnkit train --impl assignments       # your own scratchcnn (Phase 9)
    cnnkit evaluate runs/cnn-seed0/model.npz

`cnnkit train` shows the architecture, the data and the recipe, a progress bar per epoch, then
per epoch the train and test loss/accuracy and the time. By default it also trains a dense
baseline (a multilayer perceptron of similar size) with the same recipe and compares the two,
on the test set and on test digits shifted by a few pixels. It writes into the output folder:

    model.npz            the parameters and the architecture (JSON), `cnnkit evaluate` reloads it
    baseline.npz         the dense baseline, likewise
    metrics.json         configuration, per-epoch history, results, timings, peak memory
    filters.png          the first convolution's learned filters
    curves.png           loss and accuracy per epoch, train and test
    shift.png            CNN vs dense on shifted digits: accuracy per shift, example predictions

The recipe (defaults): SGD with momentum 0.9, learning rate 0.05 decayed to 0 by a cosine over
all steps, batch 64, 3 epochs; each batch is split over the CPU cores (cnnkit.parallel).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from .data import load_mnist, to_nchw_float
from .files import replace_atomically, write_json_atomic
from .parallel import DataParallel, blas_threads
from .paths import import_scratchcnn, resolve_impl

INPUT_SHAPE = (1, 28, 28)
NUM_CLASSES = 10
BASELINE_HIDDEN = 256  # 784-256-10: 203,530 parameters, the same order as the guide's CNN
SHIFTS = (0, 1, 2, 3, 4)  # pixels to the right, for the translation demo
SHIFT_IMAGES = 2000  # test images used for accuracy under shifts
EXAMPLES = 6  # test digits shown shifted
TARGET = 0.99
# Forward-only batches (evaluation): past a few hundred images the activations no longer fit
# the caches and NumPy's large temporaries cost page faults; 256 is faster per image than 1000.
EVAL_BATCH = 256
FORMAT = "cnnkit-model-1"


# ---------------------------------------------------------------------------------------------
# The implementation under training


def load_impl(spec: str | os.PathLike) -> SimpleNamespace:
    """The `scratchcnn` of `spec` ("solutions", "assignments" or a folder): layers, model, train."""
    return import_scratchcnn(resolve_impl(spec), ("layers", "model", "train"))


def build_model(impl, kind: str, seed: int):
    """The guide's CNN ("cnn") or the dense baseline ("dense"), initialised from `seed`."""
    rng = np.random.default_rng(seed)
    if kind == "cnn":
        return impl.model.build_guide_cnn(rng=rng)
    if kind == "dense":
        L = impl.layers
        features = math.prod(INPUT_SHAPE)
        return impl.model.CNN([L.Flatten(), L.Dense(features, BASELINE_HIDDEN, rng=rng), L.ReLU(),
                               L.Dense(BASELINE_HIDDEN, NUM_CLASSES, rng=rng)])
    raise ValueError(f"model must be 'cnn' or 'dense' (got {kind!r})")


def num_parameters(model) -> int:
    return int(sum(p.size for p in model.params.values()))


# ---------------------------------------------------------------------------------------------
# Saving and loading: parameters plus the architecture as JSON, no pickle


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
    if kind in ("ReLU", "Flatten"):
        return {"type": kind}
    raise ValueError(f"cannot save a layer of type {kind}: only Conv2D, Dense, MaxPool2D, ReLU "
                     "and Flatten are known")


def build_layer(impl, spec: dict):
    kind = spec["type"]
    args = {k: v for k, v in spec.items() if k != "type"}
    if kind == "Conv2D":
        args["kernel_size"] = tuple(args["kernel_size"])
    if kind not in ("Conv2D", "Dense", "MaxPool2D", "ReLU", "Flatten"):
        raise ValueError(f"unknown layer type {kind!r} in the saved architecture")
    return getattr(impl.layers, kind)(**args)


def save_model(path: Path, model, metadata: dict) -> None:
    """Write the model's parameters ("<layer>.<name>") and architecture JSON to `path` (.npz)."""
    architecture = {"format": FORMAT, "input_shape": list(INPUT_SHAPE),
                    "layers": [layer_spec(layer) for layer in model.layers], "metadata": metadata}
    arrays = {f"param:{k}": v for k, v in model.params.items()}
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
        params = model.params
        stored = {k.removeprefix("param:") for k in saved.files if k.startswith("param:")}
        if stored != set(params):
            raise ValueError(f"{path}: parameters {sorted(stored)} don't match the architecture's "
                             f"{sorted(params)}")
        for name, p in params.items():
            value = saved[f"param:{name}"]
            if value.shape != p.shape:
                raise ValueError(f"{path}: parameter {name} must have shape {p.shape} "
                                 f"(got {value.shape})")
            p[...] = value
    return model, architecture


# ---------------------------------------------------------------------------------------------
# Training


@dataclass
class Recipe:
    epochs: int = 3
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    schedule: str = "cosine"  # "cosine": lr * (1 + cos(pi * step / steps)) / 2; "constant"
    seed: int = 0
    threads: int = 2


@dataclass
class History:
    epochs: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0
    seconds_to_target: float | None = None
    epoch_to_target: int | None = None


def lr_at(recipe: Recipe, step: int, total_steps: int) -> float:
    if recipe.schedule == "constant":
        return recipe.lr
    return recipe.lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))


@contextmanager
def no_input_grad(model):
    """While training: the first layer's input is the images, whose gradient nothing uses.

    A layer that offers it (the reference's Conv2D: `input_grad`, True by default) is told to
    skip that work (a product and a col2im over the 28x28 images: half of the first
    convolution's backward pass); other layers are left alone. Restored on exit. Enter it
    before DataParallel, whose replicas copy the layers.
    """
    first = model.layers[0] if model.layers else None
    if getattr(first, "input_grad", None) is not True:
        yield
        return
    first.input_grad = False
    try:
        yield
    finally:
        first.input_grad = True


def fit(impl, model, recipe: Recipe, data: dict, progress: bool = True,
        report=print, label: str = "") -> History:
    """Train `model` with `impl`'s train_epoch; evaluate on the test set after every epoch.

    `data` holds x_train, y_train, x_test, y_test. Training time excludes the evaluations.
    """
    steps = math.ceil(len(data["x_train"]) / recipe.batch_size)
    total_steps = steps * recipe.epochs
    shuffle = np.random.default_rng(recipe.seed)
    optimizer = impl.model.SGD(lr=lr_at(recipe, 0, total_steps), momentum=recipe.momentum)
    history = History()
    with no_input_grad(model), DataParallel(model, recipe.threads) as parallel, blas_threads(
            1 if recipe.threads > 1 else None):
        for epoch in range(recipe.epochs):
            bar = tqdm(total=steps, desc=f"{label}epoch {epoch + 1}/{recipe.epochs}",
                       unit="batch", disable=not progress, leave=False, mininterval=0.5)
            running = {"loss": 0.0, "correct": 0.0, "n": 0}

            def on_batch(loss, accuracy, bar=bar, running=running):
                running["n"] += 1
                running["loss"] += loss
                running["correct"] += accuracy
                bar.update(1)
                if running["n"] % 20 == 0:
                    bar.set_postfix(loss=f"{running['loss'] / running['n']:.4f}",
                                    acc=f"{running['correct'] / running['n']:.4f}", refresh=False)

            start = time.perf_counter()
            stats = impl.train.train_epoch(
                parallel, optimizer, data["x_train"], data["y_train"],
                batch_size=recipe.batch_size, rng=shuffle, on_batch=on_batch,
                lr_schedule=lambda step, e=epoch: lr_at(recipe, e * steps + step, total_steps))
            seconds = time.perf_counter() - start
            bar.close()
            history.train_seconds += seconds
            start = time.perf_counter()
            test_loss, test_acc = impl.train.evaluate(parallel, data["x_test"], data["y_test"],
                                                    batch_size=EVAL_BATCH)
            eval_seconds = time.perf_counter() - start
            row = {"epoch": epoch + 1, "train_loss": float(stats["loss"]),
                   "train_accuracy": float(stats["accuracy"]), "test_loss": float(test_loss),
                   "test_accuracy": float(test_acc), "seconds": seconds,
                   "eval_seconds": eval_seconds}
            history.epochs.append(row)
            if history.seconds_to_target is None and test_acc >= TARGET:
                history.seconds_to_target = history.train_seconds
                history.epoch_to_target = epoch + 1
            report(f"{label}epoch {epoch + 1}/{recipe.epochs}: train loss {row['train_loss']:.4f} "
                   f"acc {row['train_accuracy']:.2%} | test loss {test_loss:.4f} "
                   f"acc {test_acc:.2%} | {seconds:.1f} s (+{eval_seconds:.1f} s test)")
    return history


def predict_proba(model, x, threads: int, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Softmax probabilities (N, K) of `model` on x, in batches."""
    out = []
    with DataParallel(model, threads) as parallel, blas_threads(1 if threads > 1 else None):
        for start in range(0, len(x), batch_size):
            logits = parallel.forward(x[start:start + batch_size]).astype(np.float64)
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            out.append(p / p.sum(axis=1, keepdims=True))
    return np.concatenate(out)


def shift_right(x: np.ndarray, pixels: int) -> np.ndarray:
    """Images (N, C, H, W) moved `pixels` to the right, zeros coming in on the left."""
    out = np.zeros_like(x)
    out[..., pixels:] = x[..., :x.shape[-1] - pixels]
    return out


def shift_study(models: dict, x: np.ndarray, y: np.ndarray, threads: int) -> dict:
    """Accuracy per shift on `x` and predictions on the first EXAMPLES images, per model."""
    study = {"shifts": list(SHIFTS), "images": len(x), "accuracy": {}, "examples": {}}
    for name, model in models.items():
        study["accuracy"][name] = []
        study["examples"][name] = []
        for pixels in SHIFTS:
            p = predict_proba(model, shift_right(x, pixels), threads)
            study["accuracy"][name].append(float(np.mean(p.argmax(axis=1) == y)))
            study["examples"][name].append([[int(p[i].argmax()), float(p[i].max())]
                                            for i in range(EXAMPLES)])
    study["labels"] = [int(v) for v in y[:EXAMPLES]]
    return study


# ---------------------------------------------------------------------------------------------
# Figures


def figure(path: Path, draw) -> None:
    """Draw with draw(plt) and save to `path` as PNG, atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = draw(plt)
    replace_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110,
                                                     bbox_inches="tight"))
    plt.close(fig)


def plot_filters(path: Path, model) -> bool:
    """The first convolution's filters (input channel 0) as a grid; False if there is none."""
    conv = next((layer for layer in model.layers if layer.params.get("w") is not None
                 and layer.params["w"].ndim == 4), None)
    if conv is None:
        return False
    w = conv.params["w"][:, 0]
    cols = 8
    rows = math.ceil(len(w) / cols)

    def draw(plt):
        fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.1))
        limit = float(np.abs(w).max())
        for ax, i in zip(np.ravel(axes), range(rows * cols)):
            ax.axis("off")
            if i < len(w):
                ax.imshow(w[i], cmap="RdBu_r", vmin=-limit, vmax=limit)
        fig.suptitle(f"first convolution: {len(w)} learned {w.shape[1]}x{w.shape[2]} filters")
        return fig

    figure(path, draw)
    return True


def plot_curves(path: Path, histories: dict) -> None:
    def draw(plt):
        fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
        for name, history in histories.items():
            epochs = [r["epoch"] for r in history.epochs]
            for split, style in (("train", "--"), ("test", "-")):
                loss_ax.plot(epochs, [r[f"{split}_loss"] for r in history.epochs], style,
                             marker="o", label=f"{name} {split}")
                acc_ax.plot(epochs, [100 * r[f"{split}_accuracy"] for r in history.epochs],
                            style, marker="o", label=f"{name} {split}")
        acc_ax.axhline(100 * TARGET, color="grey", lw=0.8, ls=":")
        loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
        acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
        for ax in (loss_ax, acc_ax):
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        return fig

    figure(path, draw)


def plot_shifts(path: Path, study: dict, x: np.ndarray) -> None:
    names = list(study["accuracy"])

    def draw(plt):
        cols = len(SHIFTS)
        fig = plt.figure(figsize=(2 * cols, 2.1 * EXAMPLES * 0.75 + 2.5))
        grid = fig.add_gridspec(EXAMPLES + 2, cols)
        ax = fig.add_subplot(grid[:2, :])
        for name in names:
            ax.plot(SHIFTS, [100 * a for a in study["accuracy"][name]], marker="o", label=name)
        ax.set(xticks=SHIFTS, xlabel="shift to the right (pixels)", ylabel="test accuracy (%)",
               title=f"accuracy on {study['images']} test digits shifted right")
        ax.legend()
        ax.grid(alpha=0.3)
        for i in range(EXAMPLES):
            for j, pixels in enumerate(SHIFTS):
                a = fig.add_subplot(grid[i + 2, j])
                a.imshow(shift_right(x[i:i + 1], pixels)[0, 0], cmap="gray_r")
                a.set_xticks([])
                a.set_yticks([])
                text = "\n".join(f"{n}: {study['examples'][n][j][i][0]} "
                                 f"({study['examples'][n][j][i][1]:.0%})" for n in names)
                a.set_title(text, fontsize=7)
                if i == 0:
                    a.set_xlabel(f"+{pixels}px", fontsize=7)
        fig.tight_layout()
        return fig

    figure(path, draw)


# ---------------------------------------------------------------------------------------------
# The commands


def load_data(data_dir, limit: int | None) -> dict:
    mnist = load_mnist(data_dir)
    n_train = len(mnist.x_train) if limit is None else min(limit, len(mnist.x_train))
    n_test = len(mnist.x_test) if limit is None else min(limit, len(mnist.x_test))
    return {"x_train": to_nchw_float(mnist.x_train[:n_train]), "y_train": mnist.y_train[:n_train],
            "x_test": to_nchw_float(mnist.x_test[:n_test]), "y_test": mnist.y_test[:n_test],
            "folder": str(mnist.folder)}


def architecture_table(model, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("layer")
    table.add_column("output shape")
    table.add_column("parameters", justify="right")
    rows = model.summary(INPUT_SHAPE)
    for i, (name, shape, count) in enumerate(rows):
        table.add_row(str(i), name, str(tuple(int(s) for s in shape)), f"{count:,}")
    table.add_row("", "total", "", f"{sum(r[2] for r in rows):,}", style="bold")
    return table


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def train_and_report(impl, kind: str, recipe: Recipe, data: dict, console: Console,
                     progress: bool) -> tuple[object, History]:
    model = build_model(impl, kind, recipe.seed)
    console.print(architecture_table(model, f"{kind} model"))
    history = fit(impl, model, recipe, data, progress=progress, report=console.print,
                  label=f"[{kind}] " if kind != "cnn" else "")
    return model, history


def result_row(kind: str, model, history: History) -> dict:
    last = history.epochs[-1]
    return {"model": kind, "parameters": num_parameters(model),
            "test_accuracy": last["test_accuracy"], "test_loss": last["test_loss"],
            "train_seconds": history.train_seconds,
            "seconds_per_epoch": history.train_seconds / len(history.epochs),
            "seconds_to_99": history.seconds_to_target, "epoch_to_99": history.epoch_to_target,
            "history": history.epochs}


def unfinished(command: str, err: NotImplementedError) -> int:
    """A student's scratchcnn still holds a stub: say which one, exit 2."""
    print(f"cnnkit {command}: your scratchcnn is not finished yet: {err}", file=sys.stderr)
    return 2


def run_train(args) -> int:
    try:
        return train_command(args)
    except NotImplementedError as err:
        return unfinished("train", err)


def run_evaluate(args) -> int:
    try:
        return evaluate_command(args)
    except NotImplementedError as err:
        return unfinished("evaluate", err)


def recipe_from(args) -> Recipe:
    recipe = Recipe(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                    momentum=args.momentum, schedule=args.schedule, seed=args.seed,
                    threads=args.threads)
    for name in ("epochs", "batch_size", "threads"):
        if getattr(recipe, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1 "
                             f"(got {getattr(recipe, name)})")
    if not recipe.lr > 0:
        raise ValueError(f"--lr must be > 0 (got {recipe.lr})")
    return recipe


def config_table(impl, data: dict, recipe: Recipe, out: Path) -> Table:
    config = Table(title="data and recipe", title_justify="left", show_header=False)
    for key, value in [
            ("implementation", str(impl.folder / "scratchcnn")),
            ("data", f"MNIST from {data['folder']}: {len(data['x_train']):,} training, "
                     f"{len(data['x_test']):,} test images (1x28x28 float32 in [0, 1])"),
            ("optimizer", f"SGD, lr {recipe.lr:g}, momentum {recipe.momentum:g}, "
                          f"{recipe.schedule} schedule over all steps"),
            ("epochs, batch", f"{recipe.epochs} epochs of batch {recipe.batch_size}"),
            ("seed", f"{recipe.seed} (initialisation and shuffling)"),
            ("threads", f"{recipe.threads} (each batch split in {recipe.threads}, "
                        f"1 BLAS thread each)" if recipe.threads > 1 else "1 (BLAS default)"),
            ("output", str(out))]:
        config.add_row(key, value)
    return config


def train_and_save(impl, kinds: list[str], recipe: Recipe, data: dict, out: Path,
                   console: Console, progress: bool) -> tuple[dict, dict, dict]:
    """Train each model kind (the first is the main model, a second one the baseline), save it.

    Returns models, histories and result rows, keyed by kind.
    """
    models, histories, results = {}, {}, {}
    for i, kind in enumerate(kinds):
        if i:
            console.print(f"\nbaseline: a {kind} network trained with the same recipe")
        models[kind], histories[kind] = train_and_report(impl, kind, recipe, data, console,
                                                         progress)
        results[kind] = result_row(kind, models[kind], histories[kind])
        save_model(out / ("baseline.npz" if i else "model.npz"), models[kind],
                   {"kind": kind, "recipe": asdict(recipe),
                    "test_accuracy": results[kind]["test_accuracy"]})
    return models, histories, results


def results_table(results: dict) -> Table:
    comparison = Table(title="results", title_justify="left")
    for column in ("model", "parameters", "test accuracy", "test loss", "training time",
                   "per epoch", "time to 99%"):
        comparison.add_column(column, justify="left" if column == "model" else "right")
    for r in results.values():
        comparison.add_row(r["model"], f"{r['parameters']:,}", f"{r['test_accuracy']:.2%}",
                           f"{r['test_loss']:.4f}", f"{r['train_seconds']:.1f} s",
                           f"{r['seconds_per_epoch']:.1f} s",
                           "-" if r["seconds_to_99"] is None
                           else f"{r['seconds_to_99']:.1f} s (epoch {r['epoch_to_99']})")
    return comparison


def shift_tables(study: dict, images: int) -> tuple[Table, Table]:
    """Accuracy per shift, and a few shifted digits' predictions, per model."""
    shifts = Table(title=f"translation: accuracy on {images} test digits shifted right",
                   title_justify="left")
    shifts.add_column("model")
    for pixels in SHIFTS:
        shifts.add_column(f"+{pixels}px", justify="right")
    for name, accuracy in study["accuracy"].items():
        shifts.add_row(name, *[f"{a:.1%}" for a in accuracy])
    examples = Table(title="the same test digits shifted: prediction (confidence)",
                     title_justify="left")
    for column in ("digit", "label", "model", *(f"+{pixels}px" for pixels in SHIFTS)):
        examples.add_column(column, justify="left" if column == "model" else "right")
    for i in range(min(EXAMPLES, images)):
        for name, by_shift in study["examples"].items():
            cells = []
            for j in range(len(SHIFTS)):
                label, confidence = by_shift[j][i]
                wrong = "" if label == study["labels"][i] else " ✗"
                cells.append(f"{label} ({confidence:.0%}){wrong}")
            examples.add_row(f"#{i}", str(study["labels"][i]), name, *cells)
    return shifts, examples


def write_figures(out: Path, histories: dict, study: dict, x_test: np.ndarray, model) -> dict:
    figures = {"curves": out / "curves.png", "shift": out / "shift.png"}
    plot_curves(figures["curves"], histories)
    plot_shifts(figures["shift"], study, x_test)
    if plot_filters(out / "filters.png", model):
        figures["filters"] = out / "filters.png"
    return figures


def train_command(args) -> int:
    console = Console()
    impl = load_impl(args.impl)
    recipe = recipe_from(args)
    out = args.out or Path("runs") / f"{args.model}-seed{args.seed}"
    data = load_data(args.data, args.limit)
    console.print(config_table(impl, data, recipe, out))

    kinds = [args.model, "dense"] if args.baseline and args.model == "cnn" else [args.model]
    models, histories, results = train_and_save(impl, kinds, recipe, data, out, console,
                                                not args.quiet)
    console.print(results_table(results))
    n = min(SHIFT_IMAGES, len(data["x_test"]))
    study = shift_study(models, data["x_test"][:n], data["y_test"][:n], recipe.threads)
    for table in shift_tables(study, n):
        console.print(table)

    figures = write_figures(out, histories, study, data["x_test"], models[args.model])
    metrics = {"implementation": str(impl.folder), "data": data["folder"],
               "train_images": len(data["x_train"]), "test_images": len(data["x_test"]),
               "recipe": asdict(recipe), "results": results, "shift": study,
               "peak_memory_mib": peak_memory_mib(),
               "files": {"model": str(out / "model.npz"),
                         **({"baseline": str(out / "baseline.npz")} if "dense" in models else {}),
                         **{k: str(v) for k, v in figures.items()}}}
    write_json_atomic(out / "metrics.json", metrics)
    final = results[args.model]["test_accuracy"]
    console.print(f"\n[bold]{args.model}: {final:.2%} test accuracy[/bold] "
                  f"({'reached' if final >= TARGET else 'below'} the {TARGET:.0%} target); "
                  f"peak memory {metrics['peak_memory_mib']:.0f} MiB")
    console.print(f"saved {out / 'model.npz'} (reload: cnnkit evaluate {out / 'model.npz'}), "
                  f"metrics.json, {', '.join(p.name for p in figures.values())} in {out}")
    return 0


def evaluate_command(args) -> int:
    impl = load_impl(args.impl)
    model, architecture = load_model(args.model, impl)
    data = load_data(args.data, args.limit)
    with DataParallel(model, args.threads) as parallel, blas_threads(
            1 if args.threads > 1 else None):
        loss, accuracy = impl.train.evaluate(parallel, data["x_test"], data["y_test"],
                                             batch_size=EVAL_BATCH)
    result = {"model": str(args.model), "test_images": len(data["x_test"]),
              "test_loss": float(loss), "test_accuracy": float(accuracy),
              "parameters": num_parameters(model),
              "saved_test_accuracy": architecture["metadata"].get("test_accuracy")}
    print(f"{args.model}: {num_parameters(model):,} parameters; test accuracy {accuracy:.2%} "
          f"(loss {loss:.4f}) on {len(data['x_test']):,} MNIST test images")
    if args.json:
        write_json_atomic(args.json, result)
    return 0


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--impl", default="solutions",
                        help="'solutions' (default), 'assignments' or a folder holding scratchcnn/")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="folder with the MNIST files (default: $CNNKIT_DATA, else the cache, "
                             "downloading if needed)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="use only the first N training and N test images (a quick run)")
    parser.add_argument("--threads", type=int, default=default_threads(),
                        help="threads each batch is split over (default: the CPUs available)")


def register(subparsers) -> None:
    train = subparsers.add_parser(
        "train", help="train a scratchcnn on MNIST (the guide's CNN by default)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(train)
    defaults = Recipe()
    train.add_argument("--model", choices=("cnn", "dense"), default="cnn",
                       help="the guide's CNN (default) or the dense baseline alone")
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--lr", type=float, default=defaults.lr, help="initial learning rate")
    train.add_argument("--momentum", type=float, default=defaults.momentum)
    train.add_argument("--schedule", choices=("cosine", "constant"), default=defaults.schedule)
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--out", type=Path, metavar="DIR",
                       help="output folder (default: runs/<model>-seed<seed>)")
    train.add_argument("--no-baseline", dest="baseline", action="store_false",
                       help="skip training the dense baseline")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser("evaluate", help="test accuracy of a model saved by train")
    evaluate.add_argument("model", type=Path, metavar="MODEL", help="a model.npz from cnnkit train")
    add_common(evaluate)
    evaluate.add_argument("--json", type=Path, help="also write the result here")
    evaluate.set_defaults(func=run_evaluate)
