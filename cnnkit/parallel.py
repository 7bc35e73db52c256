"""Data-parallel training on threads, for any `scratchcnn` implementation.

NumPy releases the GIL inside its array operations, so two threads that each push half a batch
through the network run on two cores at once. BLAS multithreading alone parallelises only the
matrix products; splitting the batch also parallelises im2col, col2im, pooling and ReLU, which
in NumPy are single-threaded.

`DataParallel(model, threads)` looks like a CNN (forward, backward, params, grads), so a
student's own `train_epoch` and `evaluate` use it unchanged:

- forward(x) splits x into `threads` contiguous shards; replica r (a shallow copy of the model
  whose layers share the same parameter arrays but keep their own caches and gradients)
  runs shard r in its own thread; the logits are concatenated in shard order.
- backward(dlogits) splits dlogits the same way; the replicas' gradients are summed, in shard
  order, into the model's own layers. dlogits is the full batch's (the loss is a mean over the
  whole batch), so the sum is the full batch's gradient up to float rounding.

- Layers with running statistics (BatchNorm2D's `buffers`) get their own copy in each replica:
  in training mode each replica normalises its shard with the shard's statistics and updates
  its copy; after the forward pass every copy becomes the shard-size-weighted mean of the
  updated copies (so the running mean follows the whole batch's mean).
- train(mode) / eval() set the mode of the model and of every replica (`CNN.train`).

Same inputs and thread count, same result: shards, and the order of the sums, are fixed. Use
`blas_threads(1)` around a data-parallel run so that each thread's BLAS calls stay on its core.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits


def replicate(model):
    """A shallow copy of `model` whose layers share its parameter arrays (same `params` dicts)
    but have their own `grads` dicts, caches and copies of `buffers`."""
    replica = copy.copy(model)
    replica.layers = []
    for layer in model.layers:
        twin = copy.copy(layer)  # own __dict__: cache attributes set by forward stay per replica
        twin.grads = {}
        if has_buffers(layer):  # updated in place by forward: shared arrays would race
            twin.buffers = {name: value.copy() for name, value in layer.buffers.items()}
        replica.layers.append(twin)
    return replica


def has_buffers(layer) -> bool:
    """Whether `layer` keeps running statistics of its own (a non-empty `buffers` attribute)."""
    return bool(vars(layer).get("buffers"))


def blas_threads(count: int):
    """Context manager limiting BLAS libraries to `count` threads (threadpoolctl)."""
    return threadpool_limits(count, user_api="blas")


class DataParallel:
    """A CNN-like wrapper that runs each batch as `threads` shards on as many threads."""

    def __init__(self, model, threads: int = 2):
        if threads < 1:
            raise ValueError(f"threads must be >= 1 (got {threads})")
        self.model = model
        self.threads = threads
        self.replicas = [model] + [replicate(model) for _ in range(threads - 1)]
        self.executor = ThreadPoolExecutor(threads - 1) if threads > 1 else None
        self.bounds: list[int] = []
        self.stateful = [i for i, layer in enumerate(model.layers) if has_buffers(layer)]

    @property
    def layers(self):
        return self.model.layers

    @property
    def params(self):
        return self.model.params

    @property
    def grads(self):
        return self.model.grads

    def train(self, mode: bool = True) -> DataParallel:
        """Training (True) or evaluation (False) mode for the model and every replica, for
        models that have modes (`train(mode)`); return self."""
        for replica in self.replicas:
            if hasattr(replica, "train"):
                replica.train(mode)
        return self

    def eval(self) -> DataParallel:
        return self.train(False)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _run(self, method: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Call replica r's `method` on arrays[r]; replica 0 runs on the calling thread."""
        if len(arrays) == 1:
            return [getattr(self.replicas[0], method)(arrays[0])]
        futures = [self.executor.submit(getattr(replica, method), a)
                   for replica, a in zip(self.replicas[1:], arrays[1:])]
        first = getattr(self.replicas[0], method)(arrays[0])
        return [first] + [f.result() for f in futures]

    def forward(self, x):
        """(N, ...) -> logits (N, K); shard r of the batch through replica r."""
        shards = max(1, min(self.threads, len(x)))
        self.bounds = np.linspace(0, len(x), shards + 1).astype(int).tolist()
        parts = [x[a:b] for a, b in zip(self.bounds[:-1], self.bounds[1:])]
        logits = np.concatenate(self._run("forward", parts))
        if len(parts) > 1:
            self._merge_buffers([len(part) for part in parts])
        return logits

    def _merge_buffers(self, sizes: list[int]) -> None:
        """Set every replica's copy of each training-mode layer's buffers to the mean of the
        copies the shards of `sizes` images updated, weighted by those sizes, in shard order."""
        weights = [size / sum(sizes) for size in sizes]
        for i in self.stateful:
            if not self.model.layers[i].training:  # eval mode leaves the statistics alone
                continue
            for name in self.model.layers[i].buffers:
                mean = sum(w * replica.layers[i].buffers[name].astype(np.float64)
                           for w, replica in zip(weights, self.replicas))
                for replica in self.replicas:
                    replica.layers[i].buffers[name][...] = mean

    def backward(self, dout):
        """dL/dlogits (N, K) -> dL/dx (None if the first layer skips it: `input_grad` in
        cnnkit.train); leaves the summed gradients in the model's layers."""
        parts = [dout[a:b] for a, b in zip(self.bounds[:-1], self.bounds[1:])]
        dxs = self._run("backward", parts)
        used = self.replicas[:len(parts)]
        for i, layer in enumerate(self.model.layers):
            for name in layer.grads:
                total = layer.grads[name]
                for replica in used[1:]:
                    total = total + replica.layers[i].grads[name]
                layer.grads[name] = total
        return None if any(dx is None for dx in dxs) else np.concatenate(dxs)
