"""The child's answers as the parent accepts them: frames read from the results socket, checked.

``ResultReader`` reads the results socket in a thread while the sandbox runs (so a child that
writes a lot never blocks on a full socket), keeping at most ``max_result_bytes`` of outputs;
``ResultReader.calls`` then turns what arrived into one ``CallResult`` per call (see ``runner``
for the statuses). Everything here is hostile input: see ``wire`` for the formats.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import re
import socket
import threading
from collections.abc import Sequence

import numpy as np

from .sandbox import Limits, SandboxResult
from .wire import WireError, load_array, read_frame

OUTPUT_NAME = re.compile(r"[A-Za-z0-9_.]{0,120}")
MAX_STATUS_BYTES = 256 * 1024
MAX_OUTPUTS = 64
CHILD_STATUSES = ("ok", "error", "not_implemented", "job_error")
# What the child says of an error reaches the student's feedback: short, and a type name only if
# it is a builtin exception (a class of the student's could carry any text in its name).
MAX_MESSAGE = 300
MAX_TRACEBACK = 600
OWN_EXCEPTION = "an exception class of your own"


@dataclasses.dataclass(frozen=True)
class CallResult:
    """What the parent accepted for one call. outputs are keyed by the child's output names:
    ``""`` for a returned array, ``"0"``, ``"1"``... for a tuple, ``"out"``, ``"dx"``,
    ``"grads.w"``... for recipes (see ``child``)."""

    call_id: str
    status: str
    outputs: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    output_errors: dict[str, str] = dataclasses.field(default_factory=dict)
    error_type: str | None = None
    message: str = ""
    traceback: str = ""


class _Rejected(Exception):
    """Something the child sent is not acceptable."""


@dataclasses.dataclass
class _Call:
    started: bool = False
    outputs: dict[str, bytes | str] = dataclasses.field(default_factory=dict)
    status: bytes | None = None


class ResultReader(threading.Thread):
    """Reads result frames from `sock` until the stream ends or `stop()` is called."""

    def __init__(self, sock: socket.socket, call_ids: Sequence[str], limits: Limits) -> None:
        super().__init__(daemon=True)
        self.sock, self.call_ids, self.limits = sock, list(call_ids), limits
        self.received = [_Call() for _ in call_ids]
        self.bytes_left = limits.max_result_bytes
        self.stream_error = ""

    def run(self) -> None:
        try:
            while (got := read_frame(self.sock.recv, max(self.limits.max_file_bytes,
                                                          MAX_STATUS_BYTES))) is not None:
                self.accept(*got)
        except (WireError, OSError, _Rejected) as exc:
            self.stream_error = f"the child's results stopped being readable: {exc}"

    def accept(self, kind: bytes, index: int, payload: bytes) -> None:
        if index >= len(self.received):
            raise _Rejected(f"a frame for call {index}, of {len(self.received)} calls")
        call = self.received[index]
        if call.status is not None:
            return  # the call's status came first: later frames for it are ignored
        if kind == b"S":
            call.started = True
        elif kind == b"E":
            call.status = payload[:MAX_STATUS_BYTES]
        elif kind == b"O":
            self.accept_output(call, payload)
        else:
            raise _Rejected(f"a frame of unknown kind {kind!r}")

    def accept_output(self, call: _Call, payload: bytes) -> None:
        length = int.from_bytes(payload[:2], "big")
        name = payload[2:2 + length].decode("ascii", errors="replace")
        if not OUTPUT_NAME.fullmatch(name) or name in call.outputs:
            raise _Rejected("an output with an invalid or repeated name")
        if len(call.outputs) >= MAX_OUTPUTS:
            raise _Rejected(f"more than {MAX_OUTPUTS} outputs in one call")
        data = payload[2 + length:]
        if len(data) > self.bytes_left:
            call.outputs[name] = "rejected by the grader: it exceeds the job's total result size"
            self.bytes_left = 0
            return
        self.bytes_left -= len(data)
        call.outputs[name] = data

    def finish(self, wait_seconds: float = 5.0) -> None:
        """After the sandbox is gone: let the reader drain what was sent, then stop it."""
        self.join(wait_seconds)
        try:  # a leftover holder of the child's end (rlimits-only level) can't keep it reading
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.join()
        self.sock.close()

    def calls(self, sandbox: SandboxResult) -> dict[str, CallResult]:
        ended = ("was stopped: " if sandbox.timed_out else "ended: ") + sandbox.describe()
        return {call_id: self.call_result(call_id, call, ended)
                for call_id, call in zip(self.call_ids, self.received)}

    def call_result(self, call_id: str, call: _Call, ended: str) -> CallResult:
        if call.status is None:
            if self.stream_error and call.started:
                return CallResult(call_id, "invalid", message=self.stream_error)
            if not call.started:
                return CallResult(call_id, "not_run", message=f"not run: the child {ended} "
                                                              "before it")
            return CallResult(call_id, "crashed", message=f"the child {ended} during this call")
        try:
            status = parse_status(call.status)
        except _Rejected as exc:
            return CallResult(call_id, "invalid", message=str(exc))
        outputs, errors = {}, dict(status["output_errors"])
        for name, data in call.outputs.items():
            if isinstance(data, str):  # refused while reading (the job's size bound)
                errors[name] = data
                continue
            try:
                outputs[name] = load_array(data, np)
            except WireError as exc:
                errors[name] = f"rejected by the grader: {exc}"
        return CallResult(call_id, status["status"], outputs, errors, status["error_type"],
                          status["message"], status["traceback"])


def _text(value, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Rejected(f"status field {field!r} must be a string")
    return value if len(value) <= limit else value[:limit - 1] + "…"


def builtin_exception_name(name: str | None) -> str | None:
    """`name` if it names a builtin exception, else a phrase that carries no text of the child's."""
    if not name:
        return None
    found = getattr(builtins, name, None)
    return name if isinstance(found, type) and issubclass(found, BaseException) else OWN_EXCEPTION


def parse_status(data: bytes) -> dict:
    try:
        status = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Rejected(f"status record is not JSON ({exc})") from None
    if not isinstance(status, dict) or status.get("status") not in CHILD_STATUSES:
        raise _Rejected("status record has no valid 'status'")
    errors = status.get("output_errors", {})
    if not (isinstance(errors, dict) and len(errors) <= MAX_OUTPUTS
            and all(isinstance(k, str) and OUTPUT_NAME.fullmatch(k) for k in errors)):
        raise _Rejected("status 'output_errors' must map output names to messages")
    return {"status": status["status"],
            "output_errors": {k: _text(v, "output_errors", MAX_MESSAGE) for k, v in errors.items()},
            "error_type": builtin_exception_name(_text(status.get("error_type"), "error_type",
                                                       100)),
            "message": _text(status.get("message"), "message", MAX_MESSAGE),
            "traceback": _text(status.get("traceback"), "traceback", MAX_TRACEBACK)}

