"""`cnnkit bench`: how fast an implementation's contract ops and training epoch are.

    cnnkit bench                       # the reference, the guide's shapes at batch 64
    cnnkit bench --impl assignments    # your own scratchcnn

For every op of the guide's CNN (both convolutions forward and backward, both max-pools forward
and backward) it reports the median time of several runs, the naive loops' time on the same
shapes (Phase 1's conv2d_forward_naive and loop versions of the other three ops, run on a
smaller batch and scaled, since they take seconds), and the speed-up. With more than one
thread it also times each op as `cnnkit train` runs it: the batch split over that many
processes, one BLAS thread each ("split"; a single call runs only the matrix products on all
cores, NumPy's other passes on one). Then it times training epochs the way `cnnkit train` runs
them (median of --epoch-runs, 3 by default). When PyTorch is installed (the optional extra:
`pip install torch==2.13.0`), the same ops and the same epochs (architecture, batch, optimizer)
run on PyTorch's CPU backend with the same number of threads, in the same process, each epoch
alternating with one of NumPy's.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import signal
import statistics
import time
from contextlib import suppress
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from .files import write_json_atomic
from .models import INPUT_SHAPE
from .parallel import blas_threads, can_fork, receive, shard_slices, usable_cores
from .runtime import denormals_flushed, keep_freed_memory
from .train import (
    Recipe, fast_training, load_impl, lr_at, parallel_kind, peak_memory_mib, students_error,
)

# How long each split measurement warms up first (`at_once_ms`).
FORK_WARMUP_SECONDS = 0.5

# (name, kind, input shape without the batch, filter shape or pool size)
OPS = (
    ("conv1", "conv", (1, 28, 28), (32, 1, 3, 3)),
    ("pool1", "pool", (32, 26, 26), 2),
    ("conv2", "conv", (32, 13, 13), (64, 32, 3, 3)),
    ("pool2", "pool", (64, 11, 11), 2),
)


@dataclass
class OpTiming:
    op: str
    shape: str
    ms: float
    naive_ms: float | None = None
    torch_ms: float | None = None
    split_ms: float | None = None  # the batch split over processes (`split_ms`)

    @property
    def speedup(self) -> float | None:
        return None if self.naive_ms is None else self.naive_ms / self.ms

    @property
    def vs_torch(self) -> float | None:
        return None if self.torch_ms is None else self.ms / self.torch_ms

    @property
    def split_vs_torch(self) -> float | None:
        return None if None in (self.split_ms, self.torch_ms) else self.split_ms / self.torch_ms


def median_ms(run, repeat: int) -> float:
    """Median wall time of run() over `repeat` calls after one warm-up call, in ms."""
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


# The naive loops: one Python iteration per output element, as in Phase 1.


def conv_backward_loops(x, w, dout):
    N, F, Ho, Wo = dout.shape
    kh, kw = w.shape[2:]
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    dx[n, :, i:i + kh, j:j + kw] += w[f] * dout[n, f, i, j]
                    dw[f] += x[n, :, i:i + kh, j:j + kw] * dout[n, f, i, j]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def pool_forward_loops(x, size):
    N, C, H, W = x.shape
    out = np.empty((N, C, H // size, W // size), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(H // size):
                for j in range(W // size):
                    window = x[n, c, i * size:(i + 1) * size, j * size:(j + 1) * size]
                    out[n, c, i, j] = window.max()
    return out


def pool_backward_loops(x, dout, size):
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * size:(i + 1) * size, j * size:(j + 1) * size]
                    a, b = divmod(int(window.argmax()), size)
                    dx[n, c, i * size + a, j * size + b] += dout[n, c, i, j]
    return dx


def time_ops(impl, batch: int, repeat: int, naive_batch: int, torch_ops,
             processes: int) -> list[OpTiming]:
    """Time each op of OPS on `impl`: one call on the whole batch, the naive loops on
    naive_batch images (scaled), PyTorch if `torch_ops`, and the batch split over `processes`
    processes if more than one (`split_ms`)."""
    conv, pool = impl.conv, impl.pool
    rng = np.random.default_rng(0)
    rows = []
    for name, kind, shape, spec in OPS:
        x = rng.standard_normal((batch, *shape), dtype=np.float32)
        small = x[:naive_batch]
        if kind == "conv":
            w = rng.standard_normal(spec, dtype=np.float32) * 0.1
            b = rng.standard_normal(spec[0], dtype=np.float32)
            label = f"{dims(x.shape)} * {dims(w.shape)}"
            forward = partial(conv.conv2d_forward, w=w, b=b)
            backward = conv.conv2d_backward
            naive_forward = partial(conv.conv2d_forward_naive, small, w, b)
            naive_backward = partial(conv_backward_loops, small, w)
        else:
            label = f"{dims(x.shape)}, {spec}x{spec}/{spec}"
            forward = partial(pool.max_pool_forward, size=spec, stride=spec)
            backward = pool.max_pool_backward
            naive_forward = partial(pool_forward_loops, small, spec)
            naive_backward = partial(pool_backward_loops, small, size=spec)
        out, cache = forward(x)
        dout = rng.standard_normal(out.shape, dtype=np.float32)
        fwd = OpTiming(f"{name} forward", label, median_ms(lambda: forward(x), repeat))
        bwd = OpTiming(f"{name} backward", label,
                       median_ms(lambda: backward(dout, cache), repeat))
        if processes > 1 and can_fork():
            fwd.split_ms, bwd.split_ms = split_ms(forward, backward, x, dout, processes, repeat)
        if torch_ops:
            fwd.torch_ms, bwd.torch_ms = (torch_ops.conv(x, w, b, dout, repeat) if kind == "conv"
                                          else torch_ops.pool(x, spec, dout, repeat))
        # Last: PyTorch's idle threads spin for a while after its ops, taking the cores from
        # whatever runs next; the naive loops (one core, seconds) absorb that.
        scale = batch / len(small)
        fwd.naive_ms = scale * median_ms(naive_forward, 1)
        bwd.naive_ms = scale * median_ms(lambda: naive_backward(dout=dout[:naive_batch]), 1)
        rows += [fwd, bwd]
    return rows


def split_ms(forward, backward, x, dout, processes: int, repeat: int) -> tuple[float, float]:
    """The op as `cnnkit train` runs it: the batch split over `processes` processes, one BLAS
    thread each, every process holding its own shard's inputs and cache (as the training's
    worker processes keep their activations; nothing crosses the pipes but the go and done
    messages). Median ms of forward, of backward, from the requests to the last reply."""
    parts = shard_slices(len(x), processes)
    caches = [forward(x[part])[1] for part in parts]
    return (at_once_ms([partial(forward, x[part]) for part in parts], repeat),
            at_once_ms([partial(backward, dout[part], cache)
                        for part, cache in zip(parts, caches)], repeat))


def at_once_ms(runs: list, repeat: int) -> float:
    """Median ms for runs[r]() to run in len(runs) processes at the same time: runs[0] in this
    one, the others in processes forked for this measurement (one BLAS thread each)."""
    context = multiprocessing.get_context("fork")
    workers = []
    try:
        for run in runs[1:]:
            ours, theirs = context.Pipe()
            process = context.Process(target=run_on_request, args=(run, theirs), daemon=True)
            process.start()
            theirs.close()
            workers.append((ours, process))

        def once():
            for ours, _ in workers:
                ours.send(True)
            runs[0]()
            for ours, _ in workers:
                if not receive(ours):
                    raise RuntimeError("the op failed in a worker process")

        with blas_threads(1):
            # Runs right after a fork are up to 2x slower, for a dozen of them here (the kernel
            # copies the pages both processes write and merges huge pages again): warm up.
            deadline = time.perf_counter() + FORK_WARMUP_SECONDS
            while time.perf_counter() < deadline:
                once()
            return median_ms(once, repeat)
    finally:
        for ours, process in workers:
            with suppress(OSError):
                ours.send(False)
            process.join()


def run_on_request(run, connection) -> None:
    """A measuring worker: run() once per True received, reply whether it ran; stop at False."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    with blas_threads(1):
        while receive(connection):
            try:
                run()
            except Exception:
                connection.send(False)
            else:
                connection.send(True)


class TorchOps:
    """The same ops and epoch on PyTorch's CPU backend."""

    def __init__(self, threads: int):
        import torch

        self.torch = torch
        torch.set_num_threads(threads)

    def conv(self, x, w, b, dout, repeat):
        torch, F = self.torch, self.torch.nn.functional
        tx = torch.from_numpy(x).requires_grad_(True)
        tw = torch.from_numpy(w).requires_grad_(True)
        tb = torch.from_numpy(b).requires_grad_(True)
        tdout = torch.from_numpy(dout)
        with torch.no_grad():
            forward = median_ms(lambda: F.conv2d(tx, tw, tb), repeat)
        out = F.conv2d(tx, tw, tb)
        backward = median_ms(
            lambda: torch.autograd.grad(out, (tx, tw, tb), tdout, retain_graph=True), repeat)
        return forward, backward

    def pool(self, x, size, dout, repeat):
        torch = self.torch
        tx, tdout = torch.from_numpy(x), torch.from_numpy(dout)
        # With indices, like the contract's forward, which keeps the argmax for backward.
        forward = median_ms(lambda: torch.nn.functional.max_pool2d(
            tx, size, size, return_indices=True), repeat)
        _, indices = torch.nn.functional.max_pool2d(tx, size, size, return_indices=True)
        backward = median_ms(lambda: torch.ops.aten.max_pool2d_with_indices_backward(
            tdout, tx, [size, size], [size, size], [0, 0], [1, 1], False, indices), repeat)
        return forward, backward

    def epoch(self, x, y, recipe: Recipe) -> float:
        """Seconds for one training epoch of the guide's CNN with the same recipe."""
        torch, nn = self.torch, self.torch.nn
        torch.manual_seed(recipe.seed)
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2, 2),
                              nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
                              nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
        optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum)
        # The loaded labels are read-only, and torch wants writable memory.
        tx, ty = torch.from_numpy(x), torch.from_numpy(y.copy())
        order = torch.from_numpy(np.random.default_rng(recipe.seed).permutation(len(x)))
        steps = math.ceil(len(x) / recipe.batch_size)
        start = time.perf_counter()
        for step in range(steps):
            batch = order[step * recipe.batch_size:(step + 1) * recipe.batch_size]
            for group in optimizer.param_groups:
                group["lr"] = lr_at(recipe, step, steps)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(tx[batch]), ty[batch])
            loss.backward()
            optimizer.step()
        return time.perf_counter() - start


def epoch_data(images: int, data_dir) -> tuple[np.ndarray, np.ndarray, str]:
    """`images` MNIST training images if a data folder is given or set, else random images."""
    from .data import ENV_VAR, load_mnist, to_nchw_float

    if data_dir is not None or os.environ.get(ENV_VAR):
        mnist = load_mnist(data_dir)
        n = min(images, len(mnist.x_train))
        return to_nchw_float(mnist.x_train[:n]), mnist.y_train[:n], f"MNIST ({mnist.folder})"
    rng = np.random.default_rng(0)
    return (rng.random((images, 1, 28, 28), dtype=np.float32),
            rng.integers(0, 10, images), "random images (no --data or $CNNKIT_DATA)")


def time_epoch(impl, x, y, recipe: Recipe) -> float:
    """Seconds for one training epoch as `cnnkit train` runs it (without the evaluation)."""
    model = impl.model.build_guide_cnn(rng=recipe.seed)
    optimizer = impl.model.SGD(lr=recipe.lr, momentum=recipe.momentum)
    steps = math.ceil(len(x) / recipe.batch_size)
    with fast_training(model, recipe.threads) as parallel:
        start = time.perf_counter()
        impl.train.train_epoch(parallel, optimizer, x, y, batch_size=recipe.batch_size,
                               rng=recipe.seed, lr_schedule=lambda s: lr_at(recipe, s, steps))
        return time.perf_counter() - start


def training_flops_per_image(model) -> int:
    """FLOPs (2 per multiply-add) of one image's training step in `model`'s conv and dense
    layers: the forward product, dL/dw and dL/dx (none for the first layer: its input is the
    data, `cnnkit.train.no_input_grad`). The guide's CNN: 15.4 M, 87% in the second conv."""
    flops, first = 0, True
    for layer, (_, out_shape, _) in zip(model.layers, model.summary(INPUT_SHAPE)):
        w = layer.params.get("w")
        if w is None:
            continue
        inputs_per_output = math.prod(w.shape[1:]) if w.ndim == 4 else w.shape[0]  # C*kh*kw, D
        flops += 2 * math.prod(out_shape) * inputs_per_output * (2 if first else 3)
        first = False
    return flops


def matmul_gflops(rows: int, inner: int, cols: int, repeat: int = 21) -> float:
    """GFLOP/s of one float32 (rows, inner) @ (inner, cols) product on one BLAS thread."""
    rng = np.random.default_rng(0)
    a = rng.random((rows, inner), dtype=np.float32)
    b = rng.random((inner, cols), dtype=np.float32)
    with blas_threads(1):
        return 2 * rows * inner * cols / median_ms(lambda: a @ b, repeat) / 1e6


def time_epochs(impl, args, torch_ops, console: Console) -> dict:
    """`args.epoch_runs` training epochs of each library, alternated (so that a slower minute
    of a shared machine does not fall on one library only); print and return the medians.

    Also the bound the matrix products set, measured in the same minutes: the epoch's FLOPs
    over `threads` cores each multiplying at the rate one core reaches on the second
    convolution's forward product for one shard (measured before every NumPy epoch)."""
    recipe = Recipe(batch_size=args.batch, threads=args.threads)
    x, y, source = epoch_data(args.epoch_images, args.data)
    flops = training_flops_per_image(impl.model.build_guide_cnn(rng=0)) * len(x)
    shard = math.ceil(args.batch / args.threads)
    _, _, (_, h, w), (filters, channels, kh, kw) = OPS[2]  # conv2
    positions = (h - kh + 1) * (w - kw + 1)
    runs, torch_runs, rates = [], [], []
    for _ in range(args.epoch_runs):  # +1: the bias column
        rates.append(matmul_gflops(shard * positions, channels * kh * kw + 1, filters))
        runs.append(time_epoch(impl, x, y, recipe))
        if torch_ops:
            torch_runs.append(torch_ops.epoch(x, y, recipe))
    seconds = statistics.median(runs)
    torch_seconds = statistics.median(torch_runs) if torch_runs else None
    rate = statistics.median(rates)
    bound = flops / (args.threads * rate * 1e9)
    table = Table(title=f"training epoch: {len(x):,} {source}, batch {args.batch}, "
                        f"{args.threads} core(s) (numpy: {parallel_kind()}, pytorch: threads); "
                        f"median of {args.epoch_runs} run(s)", title_justify="left")
    # Short headers (the title and caption say the units): the table fits 80 columns.
    for column in ("numpy s", "runs", "torch s", "runs", "np/torch", "images/s", "bound s",
                   "np/bound"):
        table.add_column(column, justify="right")
    table.add_row(f"{seconds:.2f}", " ".join(f"{r:.1f}" for r in runs),
                  fmt(torch_seconds, "{:.2f}"), " ".join(f"{r:.1f}" for r in torch_runs) or "-",
                  fmt(torch_seconds and seconds / torch_seconds, "{:.2f}"),
                  f"{len(x) / seconds:,.0f}", f"{bound:.2f}", f"{seconds / bound:.2f}")
    console.print(table)
    console.print(f"matmul bound: {flops / 1e9:.0f} GFLOP of training products over "
                  f"{args.threads} core(s) at {rate:.0f} GFLOP/s each (one core, conv2's product "
                  f"for a {shard}-image shard, median)")
    return {"images": len(x), "data": source, "seconds": seconds, "runs": runs,
            "torch_seconds": torch_seconds, "torch_runs": torch_runs,
            "flops": flops, "matmul_gflops_per_core": rate, "matmul_bound_seconds": bound}


def load_bench_impl(spec):
    impl = load_impl(spec)
    import importlib

    impl.conv = importlib.import_module("scratchcnn.conv")
    impl.pool = importlib.import_module("scratchcnn.pool")
    return impl


def dims(shape) -> str:
    return "x".join(str(d) for d in shape)


def fmt(value, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def ops_table(ops: list[OpTiming], args, naive_batch: int) -> Table:
    split = any(r.split_ms is not None for r in ops)
    caption = (f"numpy: one call on the batch, BLAS on {args.threads} thread(s), the rest on one "
               f"core; naive: Phase 1's loops on {naive_batch} image(s), times "
               f"{args.batch / naive_batch:g}; gain: naive / numpy; torch: PyTorch if installed")
    if split:
        caption += (f"; split: the batch split over {args.threads} processes, one BLAS "
                    f"thread each, as `cnnkit train` runs")
    # Short headers (the caption says what each is), and no PyTorch columns without PyTorch:
    # the table fits 80 columns.
    columns = ["op", "shape", "numpy", "naive", "gain", "torch", "np/torch"]
    columns += ["split", "sp/torch"] if split else []
    rows = []
    for r in ops:
        cells = [r.op, r.shape, f"{r.ms:.2f}", fmt(r.naive_ms, "{:.0f}"), fmt(r.speedup, "{:.0f}x"),
                 fmt(r.torch_ms, "{:.2f}"), fmt(r.vs_torch, "{:.2f}")]
        cells += [fmt(r.split_ms, "{:.2f}"), fmt(r.split_vs_torch, "{:.2f}")] if split else []
        rows.append(cells)
    shown = [i for i, column in enumerate(columns)
             if "torch" not in column or any(row[i] != "-" for row in rows)]
    table = Table(title="contract ops (ms)", title_justify="left", caption=caption,
                  caption_justify="left")
    for i in shown:
        table.add_column(columns[i], justify="left" if columns[i] in ("op", "shape") else "right")
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table


def run(args) -> int:
    # As `cnnkit train` runs (cnnkit.runtime), for PyTorch's ops and epochs too: set before
    # PyTorch starts its threads, which inherit the floating-point environment.
    keep_freed_memory()
    try:
        with denormals_flushed():
            return bench_command(args)
    except Exception as err:
        return students_error("bench", err, args.impl)


def bench_command(args) -> int:
    console = Console()
    for name in ("batch", "repeat", "threads", "naive_batch", "epoch_images", "epoch_runs"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(args, name)})")
    impl = load_bench_impl(args.impl)
    torch_ops = None
    if args.torch:
        try:
            torch_ops = TorchOps(args.threads)
        except ImportError:
            console.print("PyTorch is not installed: no comparison "
                          "(install the optional extra: pip install torch==2.13.0)")
    naive_batch = min(args.naive_batch, args.batch)
    console.print(f"scratchcnn: {impl.folder / 'scratchcnn'}; batch {args.batch}; "
                  f"{args.threads} thread(s); median of {args.repeat} runs"
                  + (f"; PyTorch {torch_ops.torch.__version__}" if torch_ops else ""))
    with blas_threads(args.threads):
        ops = time_ops(impl, args.batch, args.repeat, naive_batch, torch_ops, args.threads)
    console.print(ops_table(ops, args, naive_batch))
    result = {"implementation": str(impl.folder), "batch": args.batch, "threads": args.threads,
              "repeat": args.repeat, "load_average": os.getloadavg(),
              "torch": torch_ops.torch.__version__ if torch_ops else None,
              "ops": [{**asdict(r), "speedup": r.speedup, "vs_torch": r.vs_torch,
                       "split_vs_torch": r.split_vs_torch} for r in ops]}
    if args.epoch:
        result["epoch"] = time_epochs(impl, args, torch_ops, console)
    result["peak_memory_mib"] = peak_memory_mib()
    console.print(f"load average {os.getloadavg()[0]:.2f}; peak memory "
                  f"{result['peak_memory_mib']:.0f} MiB")
    if args.json:
        write_json_atomic(args.json, result)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="time the contract ops and a training epoch (vs PyTorch if installed)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", default="solutions",
                        help="'solutions' (default), 'assignments' or a folder holding scratchcnn/")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=7, help="runs per op (median)")
    parser.add_argument("--threads", type=int, default=usable_cores())
    parser.add_argument("--naive-batch", type=int, default=2,
                        help="images the naive loops run on (their time is scaled to --batch)")
    parser.add_argument("--epoch-images", type=int, default=60000,
                        help="training images in the timed epoch")
    parser.add_argument("--epoch-runs", type=int, default=3,
                        help="timed epochs per library (median; numpy and PyTorch alternate)")
    parser.add_argument("--no-epoch", dest="epoch", action="store_false",
                        help="skip the training epoch")
    parser.add_argument("--no-torch", dest="torch", action="store_false",
                        help="skip PyTorch even if installed")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="MNIST folder for the epoch "
                             "(default: $CNNKIT_DATA, else random images)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.set_defaults(func=run)
