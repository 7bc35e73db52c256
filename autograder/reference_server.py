"""The reference's earlier phases, served to the sandbox without ever entering it.

Grading phase N on top of correct phases < N means that the student's phase-N code calls the
reference's earlier functions (say, Phase 3's conv2d_backward calls im2col). Those functions run
here, in a process of their own outside the sandbox: the harness (``child.py``) replaces each
served student function by a stub that sends its arguments over a socket and returns the answer,
so the student's code can call the reference but never read it.

    python -m cnnkit.autograder.reference_server --fd N --serve conv.im2col [--serve ...]

What the student's code can observe: the return values of the served functions on the inputs it
chooses (arrays, plain numbers), builtin exception types with short messages for bad inputs, and
opaque numbered handles in place of caches and layers. Requests and replies are frames of
``wire`` with a size bound. Since the student chooses the inputs, this process runs with resource
limits of its own (address space and CPU time, set by the runner) and is killed with the job:
asking for a huge computation fails that call, not the grader.
"""

from __future__ import annotations

import argparse
import builtins
import os
import socket
import sys

import numpy as np

from ..paths import KIT_ROOT, import_scratchcnn
from .wire import Handle, WireError, decode, encode, frame, read_frame

MAX_REQUEST_BYTES = 64 * 1024**2
MAX_HANDLES = 20_000
MAX_MESSAGE = 200


class Server:
    """Calls the reference's `served` targets ("conv.im2col", "layers.Conv2D") on request."""

    def __init__(self, served):
        modules = sorted({target.split(".")[0] for target in served})
        ref = import_scratchcnn(KIT_ROOT / "solutions", tuple(modules), "_cnnkit_served")
        self.targets = {t: getattr(getattr(ref, t.split(".")[0]), t.split(".")[1]) for t in served}
        self.objects: dict[int, object] = {}

    def keep(self, obj) -> Handle:
        if len(self.objects) >= MAX_HANDLES:
            raise MemoryError(f"more than {MAX_HANDLES} caches or layers kept at once")
        self.objects[len(self.objects) + 1] = obj
        return Handle(len(self.objects))

    def lookup(self, value):
        """Arguments as the reference takes them: handles back to their objects."""
        if isinstance(value, Handle):
            if value.number not in self.objects:
                raise ValueError("an opaque handle this server never gave out")
            return self.objects[value.number]
        if isinstance(value, (list, tuple)):
            return type(value)(self.lookup(v) for v in value)
        if isinstance(value, dict):
            return {k: self.lookup(v) for k, v in value.items()}
        return value

    def handle(self, request: dict):
        """One request: {"call": target, "args", "kwargs"} or {"method": name, "object": handle,
        "args", "params", "training"} for a served layer."""
        args, kwargs = self.lookup(request.get("args", [])), self.lookup(request.get("kwargs", {}))
        if "call" in request:
            target = self.targets[request["call"]]
            if isinstance(target, type):
                layer = target(*args, **kwargs)
                return {"object": self.keep(layer), "params": dict(layer.params)}
            result = target(*args, **kwargs)
            if request["call"].endswith("_forward") and isinstance(result, tuple):
                return result[0], self.keep(result[1])  # (out, cache): the cache stays here
            return result
        layer = self.lookup(request["object"])
        if request["method"] not in ("forward", "backward") or not hasattr(layer, "params"):
            raise ValueError("only forward and backward of a served layer can be called")
        layer.params.update({k: np.asarray(v) for k, v in request.get("params", {}).items()})
        layer.training = bool(request.get("training", True))
        out = getattr(layer, request["method"])(*args)
        return {"out": out, "grads": dict(getattr(layer, "grads", {}))}


def safe_error(exc: BaseException) -> dict:
    """A builtin exception's name and a short message: nothing else crosses back."""
    name = type(exc).__name__
    if not (isinstance(getattr(builtins, name, None), type) and isinstance(exc, Exception)):
        name = "RuntimeError"
    try:
        message = str(exc)[:MAX_MESSAGE]
    except Exception:
        message = ""
    return {"error": name, "message": message}


def serve(sock: socket.socket, server: Server) -> None:
    while True:
        try:
            got = read_frame(sock.recv, MAX_REQUEST_BYTES)
        except (WireError, OSError):
            return
        if got is None:
            return
        _, index, payload = got
        try:
            request = decode(payload, np)
            if not isinstance(request, dict):
                raise ValueError("a request must be a dict")
            reply = encode({"value": server.handle(request)}, np)
        except Exception as exc:  # bad inputs are the caller's error, reported back
            reply = encode(safe_error(exc), np)
        sock.sendall(frame(b"R", index, reply))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--serve", action="append", default=[])
    args = parser.parse_args(argv)
    server = Server(args.serve)
    with socket.socket(fileno=args.fd) as sock:
        serve(sock, server)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main())
