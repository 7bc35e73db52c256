"""Grading harness that runs INSIDE the sandbox: import the student's `scratchcnn`, make the calls
of a job, send back plain arrays. Standard library and NumPy only; it must never import cnnkit
(it is bound read-only into the sandbox with ``wire.py``, the byte formats, beside it).

Everything this process does is untrusted from the parent's point of view: student code runs in
it and may rewrite any of it. The harness only makes honest answers easy to deliver; the parent
validates every byte it reads back and computes the verdict itself.

Command line (built by ``cnnkit.autograder.runner``)::

    python -I -S -B child.py --job DIR --results-fd N [--reference-fd M]
                             --path LIB --path SUBMISSION

Inputs, in the read-only job folder, written by the parent:

``job.json``::

    {"serve": ["conv.im2col", ...],     # optional, see below
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
- ``"recipe": "import"``: ``{"module": "conv"}`` imports ``scratchcnn.conv``; no outputs.
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
  per epoch. Outputs ``"stats.<epoch>.loss"``, ``"stats.<epoch>.accuracy"``, ``"params.<name>"``,
  and what was trained on, for the parent to replay: at each ``optimizer.step``, the rows of ``x``
  (by index) that the model's last forward got and ``optimizer.lr``: ``"steps.rows"`` (indices,
  -1 for a row that is not in ``x``), ``"steps.sizes"`` (rows per step) and ``"steps.lr"``.
- ``"recipe": "optimizer"``: ``{"class": "model.SGD", "init": {"lr": 0.1, "momentum": 0.9},
  "params": {name: ARRAY}, "grads": [{name: ARRAY}, ...], "lrs": [...]}``: one ``step(params,
  grads)`` per entry of ``grads``, with ``optimizer.lr`` set from ``lrs`` (optional) before each.
  Outputs ``"params.<name>"``: the arrays first passed in (updated in place, as a model's
  parameters must be); ``"grads.<step>.<name>"``: the gradients as the steps left them.

Served targets: ``"serve": ["conv.im2col"]`` replaces the student's ``scratchcnn.conv.im2col`` by a
stub that calls the reference's over the reference socket (see ``reference_server``), so that phase
N is graded on top of correct phases < N without the reference ever entering the sandbox. Every
``scratchcnn`` module global that refers to the student's original object is replaced, so ``from
.conv import im2col`` is covered. A served class (``layers.Conv2D``) becomes a stand-in whose
``params``, ``grads`` and ``training`` live here and whose forward and backward run there.

Results go back over the results socket as ``wire`` frames, as soon as each call ends, so that
a crash later leaves them delivered: ``S`` (call ``i`` starts: tells "crashed in this call" apart
from "never reached"), ``O`` (an output: uint16 name length, name, ``.npy`` bytes of a plain
numeric ndarray) and ``E`` (the call's status JSON: ``{"status": "ok" | "error" |
"not_implemented" | "job_error", "output_errors": {name: message}, "error_type", "message",
"traceback"}``). The traceback shows only frames from the student's files. A call that fails
part-way keeps the outputs it produced before failing (forward, when backward raises). An output
that is not a plain number, a list of numbers or a numeric ndarray (a dict, a string, an object
array) is recorded in ``output_errors`` as a TypeError; an ndarray subclass is converted to a base
ndarray.
"""

import argparse
import builtins
import io
import json
import os
import socket
import sys
import traceback

if __package__:  # imported by the trusted side (cnnkit audit)
    from . import wire
else:  # the harness, run as a file in the sandbox: wire.py is bound beside it
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import wire

# Captured before any student code runs, so that replacing these names later (np.save = ...,
# json.dumps = ...) does not reach the harness' own sending.
_open = builtins.open
_json_dumps = json.dumps
_json_loads = json.loads
_os_write = os.write
_os_join = os.path.join
_frame = wire.frame
_encode = wire.encode
_decode = wire.decode
_read_frame = wire.read_frame
_BaseException = BaseException
_isinstance = isinstance

MAX_MESSAGE_CHARS = 2000
MAX_TRACEBACK_FRAMES = 8
MAX_OUTPUTS = 64
MAX_REPLY_BYTES = 256 * 1024**2
PACKAGE = "scratchcnn"


class JobError(Exception):
    """The job itself is malformed (the parent's fault, not the student's)."""


class Writer:
    """Sends result frames over the results socket with references taken at harness start."""

    def __init__(self, sock, np):
        self._sendall = sock.sendall
        self._np_array = np.array
        self._ndarray = np.ndarray
        self._generic = np.generic
        self._write_array = np.lib.format.write_array
        self._buffer = io.BytesIO

    def started(self, index):
        self._sendall(_frame(b"S", index))

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
        """outputs: list of (name, value). Converts and sends each, then the status."""
        status = dict(status, output_errors={})
        for name, value in outputs[:MAX_OUTPUTS]:
            try:
                buffer = self._buffer()
                self._write_array(buffer, self.plain(value), allow_pickle=False)
                label = name.encode()
                self._sendall(_frame(b"O", index, len(label).to_bytes(2, "big") + label
                                     + buffer.getvalue()))
            except _BaseException as exc:
                status["output_errors"][name] = _message(exc)
        self._sendall(_frame(b"E", index, _json_dumps(status).encode()))


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
                  "model": self.model, "optimizer": self.optimizer, "train": self.train,
                  "import": self.import_module}.get(recipe)
        if runner is None:
            raise JobError(f"unknown recipe {recipe!r}")
        runner(call, outputs)

    def import_module(self, call, outputs):
        self.module(call["module"])

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
        import numpy as np  # imported in main() already, before any student code ran

        steps = StepLog(model, optimizer, x, np)
        for epoch in range(call.get("epochs", 1)):
            stats = train_epoch(model, optimizer, x, y, rng=epoch, **self.named(call.get("kwargs")))
            outputs.extend((f"stats.{epoch}.{key}", stats[key]) for key in ("loss", "accuracy"))
        outputs.extend((f"params.{key}", value) for key, value in model.params.items())
        outputs.extend(steps.outputs())

    def optimizer(self, call, outputs):
        optimizer = self.build(call)
        params = self.named(call["params"])
        arrays = dict(params)  # a step must update these arrays in place, not rebind the names
        steps = [self.named(grads) for grads in call["grads"]]
        for i, grads in enumerate(steps):
            if "lrs" in call:
                optimizer.lr = call["lrs"][i]
            optimizer.step(params, grads)
        outputs.extend((f"params.{key}", value) for key, value in arrays.items())
        # as the steps left them: an optimizer must not write into the gradients it was given
        outputs.extend((f"grads.{i}.{key}", value) for i, grads in enumerate(steps)
                       for key, value in grads.items())


class StepLog:
    """What a training run fed the model, recorded at each optimizer step: the rows of x given to
    the model's last forward, and the learning rate. The parent replays these steps through the
    reference, so weights that did not come from training on them earn nothing."""

    def __init__(self, model, optimizer, x, np):
        self._np = np
        rows = x.reshape(len(x), -1)
        self.row_of = {rows[i].tobytes(): i for i in range(len(x) - 1, -1, -1)}
        self.last, self.rows, self.sizes, self.lrs = [], [], [], []
        forward, step = model.forward, optimizer.step

        def recording_forward(batch, *args, **kwargs):
            flat = np.asarray(batch).reshape(len(batch), -1)
            self.last = [self.row_of.get(row.tobytes(), -1) for row in flat]
            return forward(batch, *args, **kwargs)

        def recording_step(*args, **kwargs):
            self.rows.extend(self.last)
            self.sizes.append(len(self.last))
            self.lrs.append(float(getattr(optimizer, "lr", float("nan"))))
            return step(*args, **kwargs)

        model.forward, optimizer.step = recording_forward, recording_step

    def outputs(self):
        np = self._np
        return [("steps.rows", np.array(self.rows, dtype=np.int64)),
                ("steps.sizes", np.array(self.sizes, dtype=np.int64)),
                ("steps.lr", np.array(self.lrs, dtype=np.float64))]


class ReferenceClient:
    """Calls the reference's served targets over the reference socket (see reference_server)."""

    def __init__(self, sock, np):
        self._sendall, self._recv = sock.sendall, sock.recv
        self._np = np
        self._count = 0

    def request(self, **fields):
        self._count += 1
        self._sendall(_frame(b"Q", self._count, _encode(fields, self._np)))
        got = _read_frame(self._recv, MAX_REPLY_BYTES)
        if got is None:
            raise RuntimeError("the grader's reference functions stopped answering (too large a "
                               "request for their memory or time limit?)")
        reply = _decode(got[2], self._np)
        if "error" in reply:
            kind = getattr(builtins, reply["error"], RuntimeError)
            raise kind(f"{reply['message']} (raised by the reference's function, given your "
                       f"arguments)")
        return reply["value"]

    def sendable(self, value):
        """A layer argument that can cross: a random generator becomes a seed drawn from it (the
        grader sets the params it checks), a dtype its name."""
        np = self._np
        if _isinstance(value, np.random.Generator):
            return int(value.integers(2**31))
        if _isinstance(value, np.random.RandomState):
            return int(value.randint(2**31))
        if _isinstance(value, (type, np.dtype)):
            return np.dtype(value).str
        return value

    def function(self, target):
        def served(*args, **kwargs):
            return self.request(call=target, args=list(args), kwargs=kwargs)
        served.__name__ = served.__qualname__ = target.rsplit(".", 1)[1]
        return served

    def layer(self, target):
        client = self

        class ServedLayer:
            """The reference's layer: its params, grads and training flag live here."""

            def __init__(self, *args, **kwargs):
                args = [client.sendable(a) for a in args]
                kwargs = {k: client.sendable(v) for k, v in kwargs.items()}
                made = client.request(call=target, args=args, kwargs=kwargs)
                self._object, self.params, self.grads = made["object"], made["params"], {}
                self.training = True

            def _run(self, method, *args):
                got = client.request(object=self._object, method=method, args=list(args),
                                     params=self.params, training=self.training)
                self.grads.clear()
                self.grads.update(got["grads"])
                return got["out"]

            def forward(self, x):
                return self._run("forward", x)

            def backward(self, dout):
                return self._run("backward", dout)

        ServedLayer.__name__ = ServedLayer.__qualname__ = target.rsplit(".", 1)[1]
        return ServedLayer


def serve_reference(calls, served, client):
    """Replace each student object named in `served` by its served stand-in, in every loaded
    scratchcnn module whose globals refer to the original. Import errors of the student's
    modules are left for the calls to report."""
    if not served:
        return
    if client is None:
        raise JobError("the job serves reference targets but no --reference-fd was given")
    replacements = []
    for target in served:
        module_name, attr = target.rsplit(".", 1)
        try:
            module = calls.module(module_name)
        except _BaseException:
            continue
        original = getattr(module, attr, None)
        stand_in = client.layer(target) if _isinstance(original, type) else client.function(target)
        setattr(module, attr, stand_in)
        if original is not None:
            replacements.append((original, stand_in))
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if name != PACKAGE and not name.startswith(PACKAGE + "."):
            continue
        namespace = vars(module)
        for key, value in list(namespace.items()):
            for original, stand_in in replacements:
                if value is original:
                    namespace[key] = stand_in


def _preload(calls, job):
    """Import every scratchcnn module the job names before serving, so their `from .x import f`
    bindings exist and get replaced."""
    names = set()
    for target in job.get("serve", []):
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
    parser.add_argument("--job", required=True)
    parser.add_argument("--results-fd", type=int, required=True)
    parser.add_argument("--reference-fd", type=int)
    parser.add_argument("--path", action="append", default=[])
    args = parser.parse_args(argv)
    sys.path[:0] = args.path
    submission = args.path[-1] if args.path else ""

    import numpy as np

    writer = Writer(socket.socket(fileno=args.results_fd), np)
    client = (ReferenceClient(socket.socket(fileno=args.reference_fd), np)
              if args.reference_fd is not None else None)
    with _open(_os_join(args.job, "job.json"), "rb") as handle:
        job = _json_loads(handle.read())
    with np.load(_os_join(args.job, "inputs.npz"), allow_pickle=False) as data:
        inputs = {name: data[name] for name in data.files}
    calls = Calls(inputs)
    _preload(calls, job)
    serve_error = None
    try:
        serve_reference(calls, job.get("serve"), client)
    except _BaseException as exc:
        serve_error = exc
    for index, call in enumerate(job["calls"]):
        writer.started(index)
        outputs = []
        try:
            if serve_error is not None:
                raise JobError(f"serving the reference failed: {_message(serve_error)}")
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
