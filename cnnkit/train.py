"""`cnnkit train` and `cnnkit evaluate`: train a scratchcnn on MNIST, save it, evaluate it.

    cnnkit train                          # the reference, the guide's CNN, full MNIST, 3 epochs
    cnnkit train --impl assignments       # your own scratchcnn (Phase 9)
    cnnkit evaluate runs/cnn-seed0/model.npz
    cnnkit train --dataset fashion --model cnn-bn   # Fashion-MNIST, with batch normalisation

`cnnkit train` shows the architecture, the data and the recipe, a progress bar per epoch, then
per epoch the train and test loss/accuracy and the time. By default it also trains a dense
baseline (a multilayer perceptron of similar size) with the same recipe and compares the two,
on the test set and on test images shifted by a few pixels. It writes into the output folder:

    model.npz            parameters, buffers and architecture (JSON), `cnnkit evaluate` reloads it
    baseline.npz         the dense baseline, likewise
    metrics.json         configuration, per-epoch history, results, timings, peak memory
    filters.png          the first convolution's learned filters
    curves.png           loss and accuracy per epoch, train and test
    shift.png            CNN vs dense on shifted images: accuracy per shift, example predictions

The recipe (defaults): SGD with momentum 0.9, learning rate 0.05 decayed to 0 by a cosine over
all steps, batch 64, 3 epochs; each batch is split over the CPU cores (cnnkit.parallel).
--dataset fashion trains on Fashion-MNIST instead (cnnkit.data.datasets); --model cnn-bn is the
guide's CNN with a BatchNorm2D after each convolution (bonus Phase 12), evaluated in eval mode.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from .blame import describe, student_line
from .data import DATASETS, get_dataset, load_mnist, to_nchw_float
from .files import replace_atomically, write_json_atomic
from .models import (
    INPUT_SHAPE, MODELS, build_model, eval_mode, load_impl, load_model, num_parameters, save_model,
)
from .parallel import DataParallel, blas_threads, can_fork, parallel_for, usable_cores
from .paths import resolve_impl
from .runtime import denormals_flushed, keep_freed_memory

SHIFTS = (0, 1, 2, 3, 4)  # pixels to the right, for the translation demo
SHIFT_IMAGES = 2000  # test images used for accuracy under shifts
EXAMPLES = 6  # test images shown shifted
TARGET = 0.99
# The test accuracy whose time `cnnkit train` reports: the course's MNIST milestone. Fashion-MNIST
# has none (the guide's CNN, with or without batch norm, gets about 90.5% in 3 epochs).
TARGETS = {"mnist": TARGET}
# Forward-only batches (evaluation): past a few hundred images the activations no longer fit
# the caches and NumPy's large temporaries cost page faults; 256 is faster per image than 1000.
EVAL_BATCH = 256


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
    before the data-parallel wrapper, whose replicas copy the layers.
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


@contextmanager
def pool_before_relu(model):
    """While training: every ReLU that feeds a max pool runs after the pool instead.

    max and ReLU commute, and both orders send a window's gradient to its first maximum (or
    nowhere when that maximum is <= 0), so the logits and every gradient are the same; the ReLU
    then reads and writes a quarter of the numbers. Only parameterless layers move, so the
    parameter names ("<layer index>.<name>") keep their arrays. Restored on exit; enter it
    before the data-parallel wrapper, whose replicas copy the layer list.
    """
    in_order = list(model.layers)
    for i in range(len(model.layers) - 1):
        pair = model.layers[i:i + 2]
        if [type(layer).__name__ for layer in pair] == ["ReLU", "MaxPool2D"]:
            model.layers[i:i + 2] = pair[::-1]
    try:
        yield
    finally:
        model.layers[:] = in_order


@contextmanager
def fast_training(model, threads: int):
    """The trainer's fast path around `model`: freed memory kept for reuse (for the rest of the
    process) and denormal floats flushed to zero (cnnkit.runtime), no first-layer input
    gradient, ReLU after max pooling, each batch split over `threads` cores (worker processes
    where they can be forked, else threads: `parallel_for`) with one BLAS thread each. Yields
    the wrapper to train."""
    keep_freed_memory()
    with denormals_flushed(), blas_threads(1 if threads > 1 else None), no_input_grad(model), \
            pool_before_relu(model), parallel_for(model, threads) as parallel:
        yield parallel


def fit(impl, model, recipe: Recipe, data: dict, progress: bool = True,
        report=print, label: str = "", target: float | None = TARGET) -> History:
    """Train `model` with `impl`'s train_epoch; evaluate on the test set after every epoch, in
    eval mode (`eval_mode`).

    `data` holds x_train, y_train, x_test, y_test. Training time excludes the evaluations. The
    history records when the test accuracy first reached `target` (None: no target).
    """
    steps = math.ceil(len(data["x_train"]) / recipe.batch_size)
    total_steps = steps * recipe.epochs
    shuffle = np.random.default_rng(recipe.seed)
    optimizer = impl.model.SGD(lr=lr_at(recipe, 0, total_steps), momentum=recipe.momentum)
    history = History()
    with fast_training(model, recipe.threads) as parallel:
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

            scheduled = []  # the steps whose learning rate train_epoch asked for

            def lr_schedule(step, e=epoch, scheduled=scheduled):
                scheduled.append(step)
                return lr_at(recipe, e * steps + step, total_steps)

            start = time.perf_counter()
            stats = impl.train.train_epoch(
                parallel, optimizer, data["x_train"], data["y_train"],
                batch_size=recipe.batch_size, rng=shuffle, on_batch=on_batch,
                lr_schedule=lr_schedule)
            seconds = time.perf_counter() - start
            bar.close()
            if epoch == 0:
                for line in ignored_callbacks(running["n"], scheduled, steps, recipe, optimizer):
                    report(f"[yellow]warning:[/] {line}")
            history.train_seconds += seconds
            start = time.perf_counter()
            with eval_mode(parallel):
                test_loss, test_acc = impl.train.evaluate(parallel, data["x_test"],
                                                        data["y_test"], batch_size=EVAL_BATCH)
            eval_seconds = time.perf_counter() - start
            row = {"epoch": epoch + 1, "train_loss": float(stats["loss"]),
                   "train_accuracy": float(stats["accuracy"]), "test_loss": float(test_loss),
                   "test_accuracy": float(test_acc), "seconds": seconds,
                   "eval_seconds": eval_seconds}
            history.epochs.append(row)
            if history.seconds_to_target is None and target is not None and test_acc >= target:
                history.seconds_to_target = history.train_seconds
                history.epoch_to_target = epoch + 1
            report(f"{label}epoch {epoch + 1}/{recipe.epochs}: train loss {row['train_loss']:.4f} "
                   f"acc {row['train_accuracy']:.2%} | test loss {test_loss:.4f} "
                   f"acc {test_acc:.2%} | {seconds:.1f} s (+{eval_seconds:.1f} s test)")
    return history


def ignored_callbacks(batches: int, scheduled: list, steps: int, recipe: Recipe,
                      optimizer) -> list[str]:
    """What a student's train_epoch left out of the recipe, in words (empty when nothing)."""
    lines = []
    if batches != steps:
        lines.append(f"your train_epoch called on_batch {batches} times in {steps} steps: the "
                     "progress bar and its running loss need one call after each step")
    if recipe.schedule != "constant" and len(scheduled) != steps:
        lines.append(f"your train_epoch called lr_schedule {len(scheduled)} times in {steps} "
                     f"steps: the {recipe.schedule} schedule needs optimizer.lr = "
                     f"lr_schedule(step) before each step (the learning rate is now "
                     f"{optimizer.lr:g})")
    return lines


def predict_proba(model, x, threads: int, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Softmax probabilities (N, K) of `model` (in eval mode) on x, in batches."""
    out = []
    with DataParallel(model, threads) as parallel, eval_mode(parallel), blas_threads(
            1 if threads > 1 else None):
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


def shift_study(models: dict, x: np.ndarray, y: np.ndarray, threads: int,
                classes: tuple[str, ...]) -> dict:
    """Accuracy per shift on `x` and predictions on the first EXAMPLES images, per model;
    `classes` names the labels."""
    study = {"shifts": list(SHIFTS), "images": len(x), "accuracy": {}, "examples": {},
             "classes": list(classes)}
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


def plot_curves(path: Path, histories: dict, target: float | None) -> None:
    def draw(plt):
        fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
        for name, history in histories.items():
            epochs = [r["epoch"] for r in history.epochs]
            for split, style in (("train", "--"), ("test", "-")):
                loss_ax.plot(epochs, [r[f"{split}_loss"] for r in history.epochs], style,
                             marker="o", label=f"{name} {split}")
                acc_ax.plot(epochs, [100 * r[f"{split}_accuracy"] for r in history.epochs],
                            style, marker="o", label=f"{name} {split}")
        if target is not None:
            acc_ax.axhline(100 * target, color="grey", lw=0.8, ls=":")
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
               title=f"accuracy on {study['images']} test images shifted right")
        ax.legend()
        ax.grid(alpha=0.3)
        for i in range(EXAMPLES):
            for j, pixels in enumerate(SHIFTS):
                a = fig.add_subplot(grid[i + 2, j])
                a.imshow(shift_right(x[i:i + 1], pixels)[0, 0], cmap="gray_r")
                a.set_xticks([])
                a.set_yticks([])
                text = "\n".join(f"{n}: {study['classes'][study['examples'][n][j][i][0]]} "
                                 f"({study['examples'][n][j][i][1]:.0%})" for n in names)
                a.set_title(text, fontsize=7)
                if i == 0:
                    a.set_xlabel(f"+{pixels}px", fontsize=7)
        fig.tight_layout()
        return fig

    figure(path, draw)


# ---------------------------------------------------------------------------------------------
# The commands


def load_data(dataset: str, data_dir, limit: int | None) -> dict:
    """The first `limit` (all if None) training and test images of `dataset` as float NCHW, the
    labels, the folder and the registry entry ("dataset": cnnkit.data.datasets.Dataset)."""
    mnist = load_mnist(data_dir, dataset=dataset)
    n_train = len(mnist.x_train) if limit is None else min(limit, len(mnist.x_train))
    n_test = len(mnist.x_test) if limit is None else min(limit, len(mnist.x_test))
    return {"x_train": to_nchw_float(mnist.x_train[:n_train]), "y_train": mnist.y_train[:n_train],
            "x_test": to_nchw_float(mnist.x_test[:n_test]), "y_test": mnist.y_test[:n_test],
            "folder": str(mnist.folder), "dataset": mnist.dataset}


def architecture_table(model, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("layer")
    table.add_column("output shape")
    table.add_column("parameters", justify="right")
    with eval_mode(model):  # summary's forward pass must not move BatchNorm's statistics
        rows = model.summary(INPUT_SHAPE)
    for i, (name, shape, count) in enumerate(rows):
        table.add_row(str(i), name, str(tuple(int(s) for s in shape)), f"{count:,}")
    table.add_row("", "total", "", f"{sum(r[2] for r in rows):,}", style="bold")
    return table


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far plus that of its largest finished child (the
    training's worker process; pages the two share, such as the training data loaded before the
    fork, count twice). Linux reports KiB."""
    return sum(resource.getrusage(who).ru_maxrss
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def parallel_kind() -> str:
    """How `fast_training` runs the shards (cnnkit.parallel.parallel_for)."""
    return "worker processes" if can_fork() else "threads"


def train_and_report(impl, kind: str, recipe: Recipe, data: dict, console: Console,
                     progress: bool, label: str) -> tuple[object, History]:
    model = build_model(impl, kind, recipe.seed)
    console.print(architecture_table(model, f"{kind} model"))
    history = fit(impl, model, recipe, data, progress=progress, report=console.print,
                  label=label, target=TARGETS.get(data["dataset"].name))
    return model, history


def result_row(kind: str, model, history: History) -> dict:
    last = history.epochs[-1]
    return {"model": kind, "parameters": num_parameters(model),
            "test_accuracy": last["test_accuracy"], "test_loss": last["test_loss"],
            "train_seconds": history.train_seconds,
            "seconds_per_epoch": history.train_seconds / len(history.epochs),
            "seconds_to_99": history.seconds_to_target, "epoch_to_99": history.epoch_to_target,
            "history": history.epochs}


def students_error(command: str, err: Exception, impl_spec) -> int:
    """A student's scratchcnn raised: a stub (say which) or an error (say it and the line of
    their code it came from), exit 2. An error that never passed through their code is the
    kit's own: re-raised with its traceback."""
    if isinstance(err, NotImplementedError):
        print(f"cnnkit {command}: your scratchcnn is not finished yet: {err}", file=sys.stderr)
        return 2
    package = resolve_impl(impl_spec) / "scratchcnn"
    if student_line(err, package) is None:
        raise err
    print(f"cnnkit {command}: your scratchcnn raised {describe(err, package)}", file=sys.stderr)
    return 2


def run_train(args) -> int:
    try:
        return train_command(args)
    except Exception as err:
        return students_error("train", err, args.impl)


def run_evaluate(args) -> int:
    try:
        return evaluate_command(args)
    except Exception as err:
        return students_error("evaluate", err, args.impl)


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
            ("data", f"{data['dataset'].title} from {data['folder']}: "
                     f"{len(data['x_train']):,} training, "
                     f"{len(data['x_test']):,} test images (1x28x28 float32 in [0, 1])"),
            ("optimizer", f"SGD, lr {recipe.lr:g}, momentum {recipe.momentum:g}, "
                          f"{recipe.schedule} schedule over all steps"),
            ("epochs, batch", f"{recipe.epochs} epochs of batch {recipe.batch_size}"),
            ("seed", f"{recipe.seed} (initialisation and shuffling)"),
            ("threads", f"{recipe.threads} (each batch split in {recipe.threads} shards, "
                        f"{parallel_kind()}, 1 BLAS thread each)"
                        if recipe.threads > 1 else "1 (BLAS default)"),
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
                                                         progress, f"[{kind}] " if i else "")
        results[kind] = result_row(kind, models[kind], histories[kind])
        save_model(out / ("baseline.npz" if i else "model.npz"), models[kind],
                   {"kind": kind, "dataset": data["dataset"].name, "recipe": asdict(recipe),
                    "test_accuracy": results[kind]["test_accuracy"]})
    return models, histories, results


def results_table(results: dict, target: float | None) -> Table:
    """One row per model; the time to `target` test accuracy if there is a target. Headers and
    cells are short enough for an 80-column terminal."""
    comparison = Table(title="results", title_justify="left")
    columns = ("model", "params", "test acc", "loss", "training", "per epoch")
    for column in columns + ((f"{target:.0%} at",) if target is not None else ()):
        comparison.add_column(column, justify="left" if column == "model" else "right")
    for r in results.values():
        to_target = ("-" if r["seconds_to_99"] is None
                     else f"{r['seconds_to_99']:.1f} s (ep {r['epoch_to_99']})")
        comparison.add_row(r["model"], f"{r['parameters']:,}", f"{r['test_accuracy']:.2%}",
                           f"{r['test_loss']:.4f}", f"{r['train_seconds']:.1f} s",
                           f"{r['seconds_per_epoch']:.1f} s",
                           *((to_target,) if target is not None else ()))
    return comparison


def shift_tables(study: dict, images: int) -> tuple[Table, Table]:
    """Accuracy per shift, and a few shifted images' predictions (class names), per model."""
    shifts = Table(title=f"translation: accuracy on {images} test images shifted right",
                   title_justify="left")
    shifts.add_column("model")
    for pixels in SHIFTS:
        shifts.add_column(f"+{pixels}px", justify="right")
    for name, accuracy in study["accuracy"].items():
        shifts.add_row(name, *[f"{a:.1%}" for a in accuracy])
    examples = Table(title="the same test images shifted: prediction (confidence)",
                     title_justify="left")
    classes = study["classes"]
    for column in ("image", "label", "model", *(f"+{pixels}px" for pixels in SHIFTS)):
        examples.add_column(column, justify="left" if column == "model" else "right")
    for i in range(min(EXAMPLES, images)):
        for name, by_shift in study["examples"].items():
            cells = []
            for j in range(len(SHIFTS)):
                label, confidence = by_shift[j][i]
                wrong = "" if label == study["labels"][i] else " ✗"
                cells.append(f"{classes[label]} ({confidence:.0%}){wrong}")
            examples.add_row(f"#{i}", classes[study["labels"][i]], name, *cells)
    return shifts, examples


def write_figures(out: Path, histories: dict, study: dict, x_test: np.ndarray, model,
                  target: float | None) -> dict:
    figures = {"curves": out / "curves.png", "shift": out / "shift.png"}
    plot_curves(figures["curves"], histories, target)
    plot_shifts(figures["shift"], study, x_test)
    if plot_filters(out / "filters.png", model):
        figures["filters"] = out / "filters.png"
    return figures


def train_command(args) -> int:
    console = Console()
    impl = load_impl(args.impl)
    recipe = recipe_from(args)
    dataset = get_dataset(args.dataset or "mnist")
    target = TARGETS.get(dataset.name)
    prefix = "" if dataset.name == "mnist" else f"{dataset.name}-"
    out = args.out or Path("runs") / f"{prefix}{args.model}-seed{args.seed}"
    data = load_data(dataset.name, args.data, args.limit)
    console.print(config_table(impl, data, recipe, out))

    kinds = [args.model, "dense"] if args.baseline and args.model != "dense" else [args.model]
    models, histories, results = train_and_save(impl, kinds, recipe, data, out, console,
                                                not args.quiet)
    console.print(results_table(results, target))
    n = min(SHIFT_IMAGES, len(data["x_test"]))
    study = shift_study(models, data["x_test"][:n], data["y_test"][:n], recipe.threads,
                        dataset.class_names)
    for table in shift_tables(study, n):
        console.print(table)

    figures = write_figures(out, histories, study, data["x_test"], models[args.model], target)
    metrics = {"implementation": str(impl.folder), "dataset": dataset.name, "data": data["folder"],
               "train_images": len(data["x_train"]), "test_images": len(data["x_test"]),
               "recipe": asdict(recipe), "results": results, "shift": study,
               "peak_memory_mib": peak_memory_mib(),
               "files": {"model": str(out / "model.npz"),
                         **({"baseline": str(out / "baseline.npz")} if "dense" in models else {}),
                         **{k: str(v) for k, v in figures.items()}}}
    write_json_atomic(out / "metrics.json", metrics)
    final = results[args.model]["test_accuracy"]
    verdict = ("" if target is None else
               f" ({'reached' if final >= target else 'below'} the {target:.0%} target)")
    console.print(f"\n[bold]{args.model}: {final:.2%} test accuracy[/bold] on {dataset.title}"
                  f"{verdict}; peak memory {metrics['peak_memory_mib']:.0f} MiB")
    console.print(f"saved {out / 'model.npz'} (reload: cnnkit evaluate {out / 'model.npz'}), "
                  f"metrics.json, {', '.join(p.name for p in figures.values())} in {out}")
    return 0


def evaluate_command(args) -> int:
    impl = load_impl(args.impl)
    model, architecture = load_model(args.model, impl)
    data = load_data(args.dataset or architecture["metadata"].get("dataset", "mnist"), args.data,
                     args.limit)
    with DataParallel(model, args.threads) as parallel, eval_mode(parallel), blas_threads(
            1 if args.threads > 1 else None):
        loss, accuracy = impl.train.evaluate(parallel, data["x_test"], data["y_test"],
                                             batch_size=EVAL_BATCH)
    result = {"model": str(args.model), "dataset": data["dataset"].name,
              "test_images": len(data["x_test"]),
              "test_loss": float(loss), "test_accuracy": float(accuracy),
              "parameters": num_parameters(model),
              "saved_test_accuracy": architecture["metadata"].get("test_accuracy"),
              "implementation": str(impl.folder)}
    whose = "the reference's" if impl.folder == resolve_impl("solutions") else "your"
    print(f"{args.model}: {num_parameters(model):,} parameters; test accuracy {accuracy:.2%} "
          f"(loss {loss:.4f}) on {len(data['x_test']):,} {data['dataset'].title} test images, "
          f"with {whose} forward pass and evaluate ({impl.folder / 'scratchcnn'}; --impl "
          f"chooses)")
    if args.json:
        write_json_atomic(args.json, result)
    return 0


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--impl", default="solutions",
                        help="'solutions' (default), 'assignments' or a folder holding scratchcnn/")
    parser.add_argument("--dataset", choices=tuple(DATASETS),
                        help="mnist or fashion (Fashion-MNIST); default: mnist for train, the "
                             "model's own for evaluate")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="folder with the dataset's files (default: $CNNKIT_DATA for MNIST; "
                             "$CNNKIT_FASHION_DATA, else /usr/share/datasets/fashion-mnist for "
                             "Fashion-MNIST; else the cache, downloading if needed)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="use only the first N training and N test images (a quick run)")
    parser.add_argument("--threads", type=int, default=usable_cores(),
                        help="cores each batch is split over, on worker processes (Linux) or "
                             "threads (default: the CPUs available)")


def register(subparsers) -> None:
    train = subparsers.add_parser(
        "train", help="train a scratchcnn on MNIST or Fashion-MNIST (the guide's CNN by default)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(train)
    defaults = Recipe()
    train.add_argument("--model", choices=MODELS, default="cnn",
                       help="the guide's CNN (default), the same with batch normalisation "
                            "(cnn-bn) or the dense baseline alone")
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--lr", type=float, default=defaults.lr, help="initial learning rate")
    train.add_argument("--momentum", type=float, default=defaults.momentum)
    train.add_argument("--schedule", choices=("cosine", "constant"), default=defaults.schedule)
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--out", type=Path, metavar="DIR",
                       help="output folder (default: runs/<model>-seed<seed>, "
                            "runs/fashion-<model>-seed<seed> for Fashion-MNIST)")
    train.add_argument("--no-baseline", dest="baseline", action="store_false",
                       help="skip training the dense baseline")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser("evaluate", help="test accuracy of a model saved by train")
    evaluate.add_argument("model", type=Path, metavar="MODEL", help="a model.npz from cnnkit train")
    add_common(evaluate)
    evaluate.add_argument("--json", type=Path, help="also write the result here")
    evaluate.set_defaults(func=run_evaluate)
