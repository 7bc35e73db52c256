"""Grading harness that runs INSIDE the sandbox: import the student's `scratchcnn`, make the calls
of a job, write back plain arrays. Standard library and NumPy only; it must never import cnnkit
(it is bound read-only into the sandbox as this single file).

Everything this process does is untrusted from the parent's point of view: student code runs in
it and may rewrite any of it. The harness only makes honest answers easy to deliver; the parent
validates every byte it reads back and computes the verdict itself.

Command line (built by ``cnnkit.autograder.runner``)::

    python -I -S -B child.py --scratch DIR --path LIB --path SUBMISSION [--support FILE]

Inputs, in the scratch folder, written by the parent:

``job.json``::

    {"patches": {"conv.im2col": "im2col", ...},     # optional, see below
     "calls": [CALL, ...]}

``inputs.npz``: the input arrays, referenced by name from the calls.

Argument values: JSON scalars and lists pass through; ``{"array": "x0"}`` is a fresh copy of input
``x0`` (so one call cannot alter another call's inputs); ``{"tuple": [...]}`` is a tuple.

A CALL is one of (``id`` is the parent's name for it; ``module.attr`` names are inside
``scratchcnn``, e.g. ``conv.im2col``, ``layers.Conv2D``):

- function: ``{"id", "call": "conv.im2col", "args": [...], "kwargs": {...}, "select": [0]}``.
  Outputs: the returned array as ``""``; a returned tuple as ``"0"``, ``"1"``... ``select``
  (optional) keeps only those tuple positions (e.g. drop an opaque cache). ``"after": [0]``
  (optional) also returns argument 0 as it is after the call, as ``"after.0"`` (was it modified?).
- ``"recipe": "fwd_bwd"``: ``{"forward": "conv.conv2d_forward", "args", "kwargs",
  "backward": "conv.conv2d_backward", "dout": ARRAY}``: ``out, cache = forward(*args, **kwargs)``,
  then ``backward(dout, cache)``. Outputs ``"out"`` and ``"backward"`` (or ``"backward.0"``...).
- ``"recipe": "layer"``: ``{"class": "layers.Conv2D", "init": {...}, "params": {"w": ARRAY, ...},
  "forward": ARRAY, "backward": ARRAY}``: builds ``cls(**init)``, overwrites ``layer.params[k]``,
  runs forward (and backward if given). Outputs ``"out"``, ``"dx"``, ``"grads.<k>"``.
  A param ``"a.k"`` of a block (a layer whose ``layers`` dict holds an inner layer ``a``, whose
  params it reads) is set as ``layer.layers[a].params[k]``. Optional: ``"buffers": {k: ARRAY}``
  overwrites ``layer.buffers[k]``; ``"training": false`` sets ``layer.training`` before forward;
  ``"forward": [ARRAY, ...]`` runs forward once per array, outputs ``"out.0"``, ``"out.1"``...
  (backward follows the last). The layer's ``buffers`` after the forwards are outputs
  ``"buffers.<k>"``.
- ``"recipe": "model"``: ``{"class": "model.CNN", "layers": [{"class", "init"}, ...],
  "params": {"0.w": ARRAY, ...}, "forward", "backward"}``: builds ``CNN([layers])``; param
  ``"i.k"`` is set as ``layers[i].params[k]`` (``"i.a.k"`` in a block as above). Outputs as
  for a layer, keyed ``"0.w"``...
- ``"recipe": "train"``: ``{"model": {"class", "layers", "params"} (as for "model"),
  "optimizer": {"class", "init"}, "function": "train.train_epoch", "x": ARRAY, "y": ARRAY,
  "kwargs": {...}, "epochs": n}``: ``function(model, optimizer, x, y, rng=epoch, **kwargs)`` once
  per epoch. Outputs ``"stats.<epoch>.loss"``, ``"stats.<epoch>.accuracy"``, ``"params.<name>"``.
- ``"recipe": "optimizer"``: ``{"class": "model.SGD", "init": {"lr": 0.1, "momentum": 0.9},
  "params": {name: ARRAY}, "grads": [{name: ARRAY}, ...]}``: one ``step(params, grads)`` per entry
  of ``grads``. Outputs ``"params.<name>"``: the arrays first passed in (updated in place, as a
  model's parameters must be).

Patches: ``{"conv.im2col": "im2col"}`` replaces the student's ``scratchcnn.conv.im2col`` by the
support file's ``im2col`` (the support file is the reference of earlier phases, so that phase N is
graded on top of correct phases < N). Every ``scratchcnn`` module global that refers to the
student's original function object is replaced, so ``from .conv import im2col`` is covered.

Results, one set of files per call ``i`` (the index in ``calls``), each written atomically and as
soon as the call ends, so that a crash later leaves them readable:

- ``started-<i>``: written just before call ``i`` runs (tells "crashed in this call" apart from
  "never reached");
- ``out-<i>-<j>.npy``: the j-th output, a plain numeric ndarray;
- ``status-<i>.json``: ``{"status": "ok" | "error" | "not_implemented" | "job_error",
  "outputs": [names in j order], "output_errors": {name: message}, "error_type", "message",
  "traceback"}``. The traceback shows only frames from the student's files. A call that fails
  part-way keeps the outputs it produced before failing (forward, when backward raises).
  An output that is not a plain number, a list of numbers or a numeric ndarray (a dict, a string,
  an object array) is recorded in ``output_errors`` as a TypeError; an ndarray subclass is
  converted to a base ndarray.
"""

import argparse
import builtins
import json
import os
import sys
import traceback

# Captured before any student code runs, so that replacing these names later (np.save = ...,
# builtins.open = ...) does not reach the harness' own writing.
_open = builtins.open
_json_dumps = json.dumps
_json_loads = json.loads
_os_replace = os.replace
_os_getpid = os.getpid
_os_write = os.write
_os_join = os.path.join
_BaseException = BaseException
_isinstance = isinstance

MAX_MESSAGE_CHARS = 2000
MAX_TRACEBACK_FRAMES = 8
MAX_OUTPUTS = 64
SUPPORT_MODULE = "cnnkit_support"
PACKAGE = "scratchcnn"


class JobError(Exception):
    """The job itself is malformed (the parent's fault, not the student's)."""


class Writer:
    """Writes result files into the scratch folder with references taken at harness start."""

    def __init__(self, scratch, np):
        self.scratch = scratch
        self._np_array = np.array
        self._ndarray = np.ndarray
        self._generic = np.generic
        self._write_array = np.lib.format.write_array

    def _atomic(self, name, write):
        tmp = _os_join(self.scratch, f".tmp-{_os_getpid()}-{name}")
        with _open(tmp, "wb") as handle:
            write(handle)
        _os_replace(tmp, _os_join(self.scratch, name))

    def started(self, index):
        self._atomic(f"started-{index}", lambda handle: None)

    def plain(self, value):
        """A base-class numeric ndarray copy of `value` (an ndarray, NumPy scalar, number or
        list of numbers). Subclasses are dropped, so a subclass that fakes == never reaches the
        parent."""
        if not (_isinstance(value, (self._ndarray, self._generic))
                or type(value) in (bool, int, float, list)):
            raise TypeError(f"returned {type(value).__name__}; an ndarray, a number or a list of "
                            f"numbers is needed")
        array = self._np_array(value, subok=False, copy=True)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"returned an array of dtype {array.dtype}; a numeric dtype is needed")
        return array

    def write(self, index, status, outputs):
        """outputs: list of (name, value). Converts and writes each, then the status file."""
        status = dict(status, outputs=[], output_errors={})
        for name, value in outputs[:MAX_OUTPUTS]:
            try:
                array = self.plain(value)
                j = len(status["outputs"])
                self._atomic(f"out-{index}-{j}.npy",
                             lambda handle: self._write_array(handle, array, allow_pickle=False))
                status["outputs"].append(name)
            except _BaseException as exc:
                status["output_errors"][name] = _message(exc)
        text = _json_dumps(status)
        self._atomic(f"status-{index}.json", lambda handle: handle.write(text.encode()))


def _text(exc):
    """str(exc) without trusting the student's __str__."""
    try:
        return str(exc)[:MAX_MESSAGE_CHARS]
    except _BaseException:
        return "<exception text could not be computed>"


def _message(exc):
    return f"{type(exc).__name__}: {_text(exc)}"[:MAX_MESSAGE_CHARS]


def _student_traceback(exc, submission):
    """The last frames of `exc` in the student's files, paths relative to the submission."""
    root = submission.rstrip("/") + "/"
    lines = []
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(root):
            where = f'  File "{frame.filename[len(root):]}", line {frame.lineno}, in {frame.name}'
            lines.append(where + (f"\n    {frame.line}" if frame.line else ""))
    return "\n".join(lines[-MAX_TRACEBACK_FRAMES:])[:MAX_MESSAGE_CHARS]


class Calls:
    """Resolves names inside the student's package and runs the calls of a job."""

    def __init__(self, inputs):
        self.inputs = inputs
        self._modules = {}

    def module(self, name):
        """Import scratchcnn.<name> once; a failed import is re-raised on every use, not re-run."""
        if name not in self._modules:
            try:
                self._modules[name] = __import__(f"{PACKAGE}.{name}", fromlist=["_"])
            except _BaseException as exc:
                self._modules[name] = exc
        found = self._modules[name]
        if _isinstance(found, _BaseException):
            raise found
        return found

    def resolve(self, dotted):
        if not _isinstance(dotted, str) or "." not in dotted:
            raise JobError(f"a target must look like 'module.attr' (got {dotted!r})")
        module, attr = dotted.rsplit(".", 1)
        return getattr(self.module(module), attr)

    def value(self, spec):
        if _isinstance(spec, dict):
            if set(spec) == {"array"}:
                if spec["array"] not in self.inputs:
                    raise JobError(f"unknown input array {spec['array']!r}")
                return self.inputs[spec["array"]].copy()
            if set(spec) == {"tuple"}:
                return tuple(self.value(item) for item in spec["tuple"])
            raise JobError(f"an argument dict must be {{'array': name}} or {{'tuple': [...]}} "
                           f"(got keys {sorted(spec)})")
        if _isinstance(spec, list):
            return [self.value(item) for item in spec]
        return spec

    def named(self, specs):
        return {str(key): self.value(spec) for key, spec in (specs or {}).items()}

    def run(self, call, outputs):
        """Append (output name, value) pairs to `outputs` as they are produced, so that a later
        failure (say, backward not implemented) keeps the earlier outputs (forward)."""
        recipe = call.get("recipe", "call")
        runner = {"call": self.function, "fwd_bwd": self.fwd_bwd, "layer": self.layer,
                  "model": self.model, "optimizer": self.optimizer, "train": self.train}.get(recipe)
        if runner is None:
            raise JobError(f"unknown recipe {recipe!r}")
        runner(call, outputs)

    def function(self, call, outputs):
        args = self.value(call.get("args", []))
        result = self.resolve(call["call"])(*args, **self.named(call.get("kwargs")))
        if not _isinstance(result, tuple):
            if "select" in call:
                raise TypeError(f"returned {type(result).__name__}; a tuple was expected")
            outputs.append(("", result))
        else:
            for i in call.get("select", range(len(result))):
                outputs.append((str(i), result[i]))
        outputs.extend((f"after.{i}", args[i]) for i in call.get("after", ()))

    def fwd_bwd(self, call, outputs):
        forward = self.resolve(call["forward"])(*self.value(call.get("args", [])),
                                                **self.named(call.get("kwargs")))
        if not (_isinstance(forward, tuple) and len(forward) == 2):
            raise TypeError(f"forward returned {type(forward).__name__}; (out, cache) was expected")
        out, cache = forward
        outputs.append(("out", out))
        grads = self.resolve(call["backward"])(self.value(call["dout"]), cache)
        if _isinstance(grads, tuple):
            outputs.extend((f"backward.{i}", grad) for i, grad in enumerate(grads))
        else:
            outputs.append(("backward", grads))

    def build(self, spec):
        return self.resolve(spec["class"])(**self.named(spec.get("init")))

    def forward_backward(self, obj, call, outputs):
        if _isinstance(call["forward"], list):  # several steps (a layer with running state)
            for i, spec in enumerate(call["forward"]):
                outputs.append((f"out.{i}", obj.forward(self.value(spec))))
        else:
            outputs.append(("out", obj.forward(self.value(call["forward"]))))
        # before backward, so that a failing backward still leaves them to check
        outputs.extend((f"buffers.{key}", value)
                       for key, value in getattr(obj, "buffers", {}).items())
        if "backward" in call:
            outputs.append(("dx", obj.backward(self.value(call["backward"]))))
            outputs.extend((f"grads.{key}", obj.grads[key]) for key in sorted(obj.grads, key=str))

    def set_param(self, layer, key, value):
        """layer.params[key] = value, or the inner layer's param for a block's "a.k" key."""
        inner, _, rest = key.partition(".")
        children = getattr(layer, "layers", None)
        if rest and _isinstance(children, dict) and inner in children:
            self.set_param(children[inner], rest, value)
        else:
            layer.params[key] = value

    def layer(self, call, outputs):
        layer = self.build(call)
        for key, value in self.named(call.get("params")).items():
            self.set_param(layer, key, value)
        for key, value in self.named(call.get("buffers")).items():
            layer.buffers[key] = value
        if "training" in call:
            layer.training = call["training"]
        self.forward_backward(layer, call, outputs)

    def build_model(self, call):
        layers = [self.build(spec) for spec in call["layers"]]
        for key, value in self.named(call.get("params")).items():
            index, _, name = key.partition(".")
            self.set_param(layers[int(index)], name, value)
        return self.resolve(call["class"])(layers)

    def model(self, call, outputs):
        self.forward_backward(self.build_model(call), call, outputs)

    def train(self, call, outputs):
        model = self.build_model(call["model"])
        optimizer = self.build(call["optimizer"])
        train_epoch = self.resolve(call["function"])
        x, y = self.value(call["x"]), self.value(call["y"])
        for epoch in range(call.get("epochs", 1)):
            stats = train_epoch(model, optimizer, x, y, rng=epoch, **self.named(call.get("kwargs")))
            outputs.extend((f"stats.{epoch}.{key}", stats[key]) for key in ("loss", "accuracy"))
        outputs.extend((f"params.{key}", value) for key, value in model.params.items())

    def optimizer(self, call, outputs):
        optimizer = self.build(call)
        params = self.named(call["params"])
        arrays = dict(params)  # a step must update these arrays in place, not rebind the names
        for grads in call["grads"]:
            optimizer.step(params, self.named(grads))
        outputs.extend((f"params.{key}", value) for key, value in arrays.items())


def _load_support(path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(SUPPORT_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def apply_patches(calls, patches, support_path):
    """Replace each student function named in `patches` by the support file's function, in every
    loaded scratchcnn module whose globals refer to the original. Import errors of the student's
    modules are left for the calls to report."""
    if not patches:
        return
    if support_path is None:
        raise JobError("the job has patches but no --support file was given")
    support = _load_support(support_path)
    replacements = []
    for target, name in patches.items():
        module_name, attr = target.rsplit(".", 1)
        try:
            module = calls.module(module_name)
        except _BaseException:
            continue
        original = getattr(module, attr, None)
        replacement = getattr(support, name)
        setattr(module, attr, replacement)
        if original is not None:
            replacements.append((original, replacement))
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if name != PACKAGE and not name.startswith(PACKAGE + "."):
            continue
        namespace = vars(module)
        for key, value in list(namespace.items()):
            for original, replacement in replacements:
                if value is original:
                    namespace[key] = replacement


def _preload(calls, job):
    """Import every scratchcnn module the job names before patching, so their `from .x import f`
    bindings exist and get patched."""
    names = set()
    for target in job.get("patches", {}):
        names.add(target.rsplit(".", 1)[0])
    for call in job["calls"]:
        for key in ("call", "forward", "backward", "class"):
            if _isinstance(call.get(key), str) and "." in call[key]:
                names.add(call[key].rsplit(".", 1)[0])
        for spec in call.get("layers", []):
            names.add(str(spec.get("class", "")).rsplit(".", 1)[0])
    for name in sorted(names):
        try:
            calls.module(name)
        except _BaseException:
            pass


def _status_of(exc, submission):
    if _isinstance(exc, JobError):
        kind = "job_error"
    elif _isinstance(exc, NotImplementedError):
        kind = "not_implemented"
    else:
        kind = "error"
    try:
        where = _student_traceback(exc, submission)
    except _BaseException:
        where = ""
    return {"status": kind, "error_type": type(exc).__name__, "message": _text(exc),
            "traceback": where}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", required=True)
    parser.add_argument("--path", action="append", default=[])
    parser.add_argument("--support")
    args = parser.parse_args(argv)
    sys.path[:0] = args.path
    submission = args.path[-1] if args.path else ""

    import numpy as np

    writer = Writer(args.scratch, np)
    with _open(_os_join(args.scratch, "job.json"), "rb") as handle:
        job = _json_loads(handle.read())
    with np.load(_os_join(args.scratch, "inputs.npz"), allow_pickle=False) as data:
        inputs = {name: data[name] for name in data.files}
    calls = Calls(inputs)
    _preload(calls, job)
    patch_error = None
    try:
        apply_patches(calls, job.get("patches"), args.support)
    except _BaseException as exc:
        patch_error = exc
    for index, call in enumerate(job["calls"]):
        writer.started(index)
        outputs = []
        try:
            if patch_error is not None:
                raise JobError(f"patching failed: {_message(patch_error)}")
            calls.run(call, outputs)
            status = {"status": "ok"}
        except _BaseException as exc:  # SystemExit and KeyboardInterrupt from student code too
            status = _status_of(exc, submission)
            if _isinstance(exc, MemoryError):  # lets the parent flag memory_exceeded
                _os_write(2, f"harness: MemoryError in call {index}\n".encode())
        writer.write(index, status, outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
