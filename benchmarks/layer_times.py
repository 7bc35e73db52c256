"""Where one shard's training step goes: thread CPU time of every layer's forward and backward.

    .venv/bin/python benchmarks/layer_times.py                       # the reference, random images
    .venv/bin/python benchmarks/layer_times.py --data DIR               # real digits from an MNIST folder
    .venv/bin/python benchmarks/layer_times.py --impl assignments --shard 64

One process, one BLAS thread, the layers in the order the trainer runs them (ReLU after each
max pool, no input gradient for the first layer: cnnkit.train), with the trainer's process
settings (cnnkit.runtime). Each figure is the median over --steps steps after --warmup.
Real digits matter: their blank background makes ties in the first pool the rule.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from cnnkit.data import load_mnist, to_nchw_float
from cnnkit.models import build_model, load_impl
from cnnkit.parallel import blas_threads
from cnnkit.runtime import denormals_flushed, keep_freed_memory
from cnnkit.train import no_input_grad, pool_before_relu


def shard_images(images: int, data) -> tuple[np.ndarray, np.ndarray, str]:
    if data is None:
        rng = np.random.default_rng(0)
        return (rng.random((images, 1, 28, 28), dtype=np.float32),
                rng.integers(0, 10, images), "random images")
    mnist = load_mnist(data)
    return to_nchw_float(mnist.x_train[:images]), mnist.y_train[:images], "MNIST digits"


def layer_times(impl, x, y, steps: int, warmup: int) -> tuple[list[str], np.ndarray]:
    """Per layer, the median thread CPU time (ms) of forward and of backward: (names, (L, 2))."""
    model = build_model(impl, "cnn", seed=0)
    with denormals_flushed(), blas_threads(1), no_input_grad(model), pool_before_relu(model):
        times = np.zeros((warmup + steps, len(model.layers), 2))
        for step in range(warmup + steps):
            out = x
            for i, layer in enumerate(model.layers):
                start = time.thread_time()
                out = layer.forward(out)
                times[step, i, 0] = time.thread_time() - start
            _, dout = impl.layers.softmax_cross_entropy(out, y)
            for i in reversed(range(len(model.layers))):
                start = time.thread_time()
                dout = model.layers[i].backward(dout)
                times[step, i, 1] = time.thread_time() - start
        return [repr(layer) for layer in model.layers], 1000 * np.median(times[warmup:], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", default="solutions")
    parser.add_argument("--shard", type=int, default=32, help="images per step (a shard)")
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--data", metavar="DIR", help="MNIST folder (default: random images)")
    args = parser.parse_args()
    keep_freed_memory()
    x, y, source = shard_images(args.shard, args.data)
    names, ms = layer_times(load_impl(args.impl), x, y, args.steps, args.warmup)
    print(f"{args.shard} {source}, median of {args.steps} steps, thread CPU time (ms), "
          f"load average {os.getloadavg()[0]:.2f}")
    width = max(map(len, names))
    print(f"{'layer':{width}}  forward  backward")
    for name, (forward, backward) in zip(names, ms):
        print(f"{name:{width}}  {forward:7.3f}  {backward:8.3f}")
    print(f"{'total':{width}}  {ms[:, 0].sum():7.3f}  {ms[:, 1].sum():8.3f}   "
          f"step {ms.sum():.3f}")


if __name__ == "__main__":
    main()
