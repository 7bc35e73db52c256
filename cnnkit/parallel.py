"""Data-parallel training for any `scratchcnn` implementation: each batch split over the cores.

Splitting the batch parallelises everything a training step does (im2col, col2im, pooling, ReLU,
which NumPy runs on one core), where BLAS multithreading alone parallelises only the matrix
products. Two wrappers do it, with one interface: each looks like a CNN (forward, backward,
params, grads, layers, train/eval), so a student's own `train_epoch` and `evaluate` use it
unchanged.

- forward(x) splits x into contiguous shards, one per core; shard r runs through replica r
  (replica 0 is the model itself, on the calling thread); the logits are concatenated in shard
  order.
- backward(dlogits) splits dlogits the same way; the replicas' gradients are summed, in shard
  order, into the model's own layers. dlogits is the full batch's (the loss is a mean over the
  whole batch), so the sum is the full batch's gradient up to float rounding.
- Layers with running statistics (BatchNorm2D's `buffers`) get their own copy in each replica:
  in training mode each replica normalises its shard with the shard's statistics and updates
  its copy; after the forward pass every copy becomes the shard-size-weighted mean of the
  updated copies (so the running mean follows the whole batch's mean).
- train(mode) / eval() set the mode of the model and of every replica (`CNN.train`).

`DataParallel` runs the replicas on threads: NumPy releases the GIL inside array operations,
but a step makes about 150 NumPy calls per shard and the threads queue for the GIL between
them. `ProcessParallel` runs them in forked worker processes instead, with the parameters in
shared memory (the optimizer's in-place updates reach every worker), each process polling its
pipe briefly before it sleeps (`receive`): on two cores its training steps are about 5% faster
(benchmarks/README.md). It needs `fork` (Linux); `parallel_for` picks it where it is
available.

Same inputs and shard count, same result: shards, and the order of the sums, are fixed. Use
`blas_threads(1)` around a data-parallel run so that each shard's BLAS calls stay on its core.

Not for layers that draw random numbers (Dropout's `rng`): the threads would share one
generator in whatever order they reach it, and each worker would draw from a copy of the
generator as it was at the fork, so the shards' masks would repeat. No model `cnnkit train`
builds has one.
"""

from __future__ import annotations

import copy
import mmap
import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits


def blas_threads(count: int | None):
    """Context manager limiting BLAS libraries to `count` threads (threadpoolctl; None: no
    limit)."""
    return threadpool_limits(count, user_api="blas")


def has_buffers(layer) -> bool:
    """Whether `layer` keeps running statistics of its own (a non-empty `buffers` attribute)."""
    return bool(vars(layer).get("buffers"))


def shard_slices(size: int, shards: int) -> list[slice]:
    """How a batch of `size` is split: min(shards, size) contiguous shards (at least one),
    sizes differing by at most one, in order."""
    bounds = np.linspace(0, size, max(1, min(shards, size)) + 1).astype(int).tolist()
    return [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]


def check_shards(shards: int) -> None:
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f"threads must be an int >= 1 (got {shards!r})")


class Sharded:
    """What both wrappers share: sharding, gradient sums, buffer merges, modes.

    A subclass runs the shards (`_run(op, shards)`), passes modes on (`_set_mode`), gives access
    to replica r's gradients and buffers for layer i (`grads_of(r, i)`, `buffers_of(r, i)`;
    replica 0 is the model) and releases its threads or processes (`close`)."""

    def __init__(self, model, shards: int):
        check_shards(shards)
        self.model = model
        self.shards = shards
        self.training = all(getattr(layer, "training", True) for layer in model.layers)
        self.slices: list[slice] = []  # the last forward's shards, for backward
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

    def train(self, mode: bool = True):
        """Training (True) or evaluation (False) mode for the model and every replica, for
        models that have modes (`train(mode)`); return self."""
        self.training = mode
        self._set_mode(mode)
        return self

    def eval(self):
        return self.train(False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def forward(self, x):
        """(N, ...) -> logits (N, K); shard r of the batch through replica r."""
        self.slices = shard_slices(len(x), self.shards)
        parts = [x[part] for part in self.slices]
        logits = np.concatenate(self._run("forward", parts))
        if len(parts) > 1:
            self._merge_buffers([len(part) for part in parts])
        return logits

    def backward(self, dout):
        """dL/dlogits (N, K) -> dL/dx (None if the first layer skips it: `input_grad` in
        cnnkit.train); leaves the summed gradients in the model's layers."""
        parts = [dout[part] for part in self.slices]
        dxs = self._run("backward", parts)
        for i, layer in enumerate(self.model.layers):
            for name in layer.grads:
                total = layer.grads[name]
                for r in range(1, len(parts)):
                    total = total + self.grads_of(r, i)[name]
                layer.grads[name] = total
        return None if any(dx is None for dx in dxs) else np.concatenate(dxs)

    def _merge_buffers(self, sizes: list[int]) -> None:
        """Set every replica's copy of each training-mode layer's buffers to the mean of the
        copies the shards of `sizes` images updated, weighted by those sizes, in shard order."""
        weights = [size / sum(sizes) for size in sizes]
        for i in self.stateful:
            if not self.model.layers[i].training:  # eval mode leaves the statistics alone
                continue
            for name in self.model.layers[i].buffers:
                copies = [self.buffers_of(r, i)[name] for r in range(len(sizes))]
                mean = sum(w * value.astype(np.float64) for w, value in zip(weights, copies))
                for value in copies:
                    value[...] = mean


# ---------------------------------------------------------------------------------------------
# Threads


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


class DataParallel(Sharded):
    """A CNN-like wrapper that runs each batch as `threads` shards on as many threads."""

    def __init__(self, model, threads: int = 2):
        super().__init__(model, threads)
        self.replicas = [model] + [replicate(model) for _ in range(threads - 1)]
        self.executor = ThreadPoolExecutor(threads - 1) if threads > 1 else None

    def _set_mode(self, mode: bool) -> None:
        for replica in self.replicas:
            if hasattr(replica, "train"):
                replica.train(mode)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown()

    def _run(self, method: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Call replica r's `method` on arrays[r]; replica 0 runs on the calling thread."""
        futures = [self.executor.submit(getattr(replica, method), a)
                   for replica, a in zip(self.replicas[1:], arrays[1:])]
        first = getattr(self.replicas[0], method)(arrays[0])
        return [first] + [f.result() for f in futures]

    def grads_of(self, r: int, i: int) -> dict:
        return self.replicas[r].layers[i].grads

    def buffers_of(self, r: int, i: int) -> dict:
        return self.replicas[r].layers[i].buffers


# ---------------------------------------------------------------------------------------------
# Processes

# How long a process polls its pipe before it sleeps in a blocking read. Waking a sleeping
# process costs about 0.07 ms per message on this VM, and a step hands over four; the waits
# inside a training step are shorter than this, so neither process sleeps between messages.
# Only with a core each: polling on a shared core would take it from the process it waits for.
SPIN_SECONDS = 0.002


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def receive(connection):
    """The next message from `connection`: polled for up to SPIN_SECONDS (when this process
    may use more than one core), then waited for."""
    deadline = time.perf_counter() + (SPIN_SECONDS if usable_cores() > 1 else 0)
    while not connection.poll() and time.perf_counter() < deadline:
        pass
    return connection.recv()


# Each worker's inbox: shared memory for the shards sent to it (larger ones go through the pipe).
INBOX_BYTES = 8 << 20


class InInbox(tuple):
    """A request's array left in the worker's inbox: (shape, dtype string)."""


def post(array, inbox: mmap.mmap):
    """What to send for `array`: an InInbox after copying it into `inbox` if it fits there (a
    100 kB shard then costs a copy instead of a pickle through the pipe, whose 64 kB buffer
    makes the sender wait for the reader), else the array itself."""
    if not isinstance(array, np.ndarray) or array.dtype.hasobject or array.nbytes > len(inbox):
        return array
    np.frombuffer(inbox, array.dtype, array.size).reshape(array.shape)[...] = array
    return InInbox((array.shape, array.dtype.str))


def collect(message, inbox: mmap.mmap):
    """The array `post` sent: a copy of the inbox's (the next request overwrites it)."""
    if not isinstance(message, InInbox):
        return message
    shape, dtype = message
    return np.frombuffer(inbox, dtype, int(np.prod(shape))).reshape(shape).copy()


def shared_copy(array) -> np.ndarray:
    """A copy of `array` in an anonymous shared mapping: processes forked later see (and make)
    every change to it."""
    array = np.asarray(array)
    memory = mmap.mmap(-1, max(array.nbytes, 1))  # MAP_SHARED | MAP_ANONYMOUS
    shared = np.frombuffer(memory, dtype=array.dtype, count=array.size).reshape(array.shape)
    shared[...] = array
    return shared


def share_params(model) -> list[dict]:
    """Replace every layer's parameter arrays by shared copies (same values); return them, per
    layer. The optimizer updates parameters in place (SGD's contract), so its updates reach
    every forked worker."""
    shared = []
    for i, layer in enumerate(model.layers):
        arrays = {}
        for name, value in layer.params.items():
            arrays[name] = layer.params[name] = shared_copy(value)
            if layer.params[name] is not arrays[name]:
                raise ValueError(f"layer {i} ({layer!r}): its params cannot be replaced (params "
                                 f"must be a dict attribute to train it in worker processes)")
        shared.append(arrays)
    return shared


def attach_params(model, shared: list[dict], authoritative: bool) -> None:
    """Point every layer's params back at the shared arrays if something rebound them (an
    optimizer that assigns new arrays instead of updating in place). The main process
    (`authoritative`) first copies the new values in; a worker takes the shared ones."""
    for layer, arrays in zip(model.layers, shared):
        for name, array in arrays.items():
            current = layer.params[name]
            if current is not array:
                if authoritative:
                    array[...] = current
                layer.params[name] = array


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process (the cause of the re-raise)."""

    def __str__(self):
        return self.args[0]


def picklable(exc: BaseException) -> BaseException:
    """`exc` if it survives the pipe, else a RuntimeError with its type name and message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # an exception type that does not pickle: keep its name and message
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def serve(model, connection, inbox: mmap.mmap, params: list[dict], grads: list[dict],
          buffers: list[dict], training: bool) -> None:
    """A worker's loop: run (op, shard, training mode) requests on its copy of the model until
    told to stop (None) or the main process is gone.

    Reply ("ok", result) or ("error", exception, traceback text). Gradients and running
    statistics go through shared memory (`grads`, `buffers`), the shard through the `inbox` (when
    it fits; `post`) and the results through the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    with blas_threads(1):
        while True:
            try:
                request = receive(connection)
            except EOFError:
                return
            if request is None:
                return
            op, shard, mode = request
            try:
                shard = collect(shard, inbox)
                if op == "forward":
                    attach_params(model, params, authoritative=False)
                    if mode != training and hasattr(model, "train"):
                        model.train(mode)
                    training = mode
                    copy_buffers(buffers, model, into_layers=True)
                    result = model.forward(shard)
                    copy_buffers(buffers, model, into_layers=False)
                else:
                    result = model.backward(shard)
                    for i, layer in enumerate(model.layers):
                        for name, value in layer.grads.items():
                            grads[i][name][...] = value
                connection.send(("ok", result))
            except Exception as exc:
                connection.send(("error", picklable(exc), traceback.format_exc()))


def copy_buffers(shared: list[dict], model, into_layers: bool) -> None:
    """Copy the running statistics from shared memory into the model's layers, or back."""
    for layer, arrays in zip(model.layers, shared):
        for name, array in arrays.items():
            if into_layers:
                layer.buffers[name][...] = array
            else:
                array[...] = layer.buffers[name]


class Worker:
    """A forked process that runs one shard per request on its copy of the model."""

    def __init__(self, model, params: list[dict], name: str, training: bool):
        self.grads = [{key: shared_copy(np.zeros_like(value)) for key, value in arrays.items()}
                      for arrays in params]
        self.buffers = [{key: shared_copy(value) for key, value in layer.buffers.items()}
                        if has_buffers(layer) else {} for layer in model.layers]
        self.inbox = mmap.mmap(-1, INBOX_BYTES)  # MAP_SHARED | MAP_ANONYMOUS, pages on first use
        context = multiprocessing.get_context("fork")
        self.connection, child_end = context.Pipe()
        self.process = context.Process(
            target=serve,
            args=(model, child_end, self.inbox, params, self.grads, self.buffers, training),
            name=name, daemon=True)
        self.process.start()
        child_end.close()
        self.failure: BaseException | None = None

    def request(self, op: str, shard: np.ndarray, training: bool) -> None:
        try:
            self.connection.send((op, post(shard, self.inbox), training))
        except OSError:
            self.failure = self.died()

    def reply(self):
        """(result, None), or (None, the exception to raise) if the request failed."""
        if self.failure is not None:
            failure, self.failure = self.failure, None
            return None, failure
        try:
            status, value, *details = receive(self.connection)
        except (EOFError, OSError):
            return None, self.died()
        if status == "error":
            value.__cause__ = RemoteTraceback(details[0])
            return None, value
        return value, None

    def died(self) -> RuntimeError:
        self.process.join(timeout=5)
        return RuntimeError(f"worker process {self.process.name} (pid {self.process.pid}) "
                            f"exited with code {self.process.exitcode} in the middle of a step")

    def stop(self) -> None:
        try:
            self.connection.send(None)
        except OSError:
            pass
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.connection.close()


class ProcessParallel(Sharded):
    """A CNN-like wrapper that runs shard 0 of each batch in this process and shard r in forked
    worker process r (`processes` shards in all).

    The model's parameter arrays are moved into shared memory when it starts (the layers keep
    the same values in new arrays; see `share_params`), so every in-place update reaches the
    workers. Each worker sends back its logits (and dx, when the first layer computes it) through
    a pipe and writes its gradients and running statistics into shared memory.
    """

    def __init__(self, model, processes: int = 2):
        super().__init__(model, processes)
        self.shared_params = share_params(model)
        self.workers = [Worker(model, self.shared_params, f"cnnkit-shard-{r}", self.training)
                        for r in range(1, processes)]

    def _set_mode(self, mode: bool) -> None:  # workers get the mode with every forward request
        if hasattr(self.model, "train"):
            self.model.train(mode)

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []

    def _run(self, op: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        if op == "forward":
            attach_params(self.model, self.shared_params, authoritative=True)
        busy = self.workers[:len(arrays) - 1]
        for worker, array in zip(busy, arrays[1:]):
            worker.request(op, array, self.training)
        try:
            first = getattr(self.model, op)(arrays[0])
        finally:  # even when this shard failed: the workers' replies must not wait in the pipes
            replies = [worker.reply() for worker in busy]
        for _, failure in replies:
            if failure is not None:
                raise failure
        return [first] + [result for result, _ in replies]

    def grads_of(self, r: int, i: int) -> dict:
        return self.workers[r - 1].grads[i]

    def buffers_of(self, r: int, i: int) -> dict:
        return self.model.layers[i].buffers if r == 0 else self.workers[r - 1].buffers[i]


def can_fork() -> bool:
    """Worker processes are used where fork is the safe, usual way (Linux); elsewhere threads."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def parallel_for(model, shards: int) -> Sharded:
    """The fastest wrapper for training `model` on `shards` cores: worker processes where they
    can be forked, else threads (one shard: no workers either way)."""
    if shards > 1 and can_fork():
        return ProcessParallel(model, shards)
    return DataParallel(model, shards)
