"""Parent side of a sandboxed grading job: send inputs to the child harness, read back its answers.

The parent (this module) is the only side that is trusted. It writes ``job.json`` and
``inputs.npz`` into a fresh scratch folder, runs ``child.py`` in the sandbox (see ``sandbox``), and
treats everything found in the scratch folder afterwards as hostile data:

- files are opened relative to the scratch folder without following symlinks, without blocking
  (a FIFO cannot hang the parent), must be regular files and are read only up to a size bound;
- arrays are read with ``np.load(allow_pickle=False)`` and must be plain numeric ndarrays
  (bool, int, uint, float; no object, string or structured dtypes);
- status files are size-bounded JSON whose fields are checked one by one.

Nothing the child writes can change a verdict: expected values never enter the sandbox and every
comparison happens in the parent, on the arrays returned here. A child that forges result files can
only hand in answers of its own, which it could also have computed.

Per call, ``CallResult.status`` is one of:

``ok``               the call returned; ``outputs`` holds its arrays (unusable ones are in
                     ``output_errors``)
``error``            the student's code raised (``error_type``, ``message``, ``traceback``)
``not_implemented``  it raised NotImplementedError
``job_error``        the job was malformed or a patch could not be applied (a grader bug)
``crashed``          the child died or was stopped during this call (``message`` says how)
``not_run``          the child was gone before this call started
``invalid``          the child's status file for this call was unreadable or malformed
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .sandbox import SANDBOX_ROOT, IsolationLevel, Limits, Sandbox, SandboxResult

HARNESS = Path(__file__).with_name("child.py")
HARNESS_DEST = f"{SANDBOX_ROOT}/harness/child.py"
SUPPORT_DEST = f"{SANDBOX_ROOT}/support/support.py"
PACKAGE = "scratchcnn"

CALL_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}")
INPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
OUTPUT_NAME = re.compile(r"[A-Za-z0-9_.]{0,120}")
MAX_STATUS_BYTES = 256 * 1024
MAX_OUTPUTS = 64
MAX_TEXT = 2000
CHILD_STATUSES = ("ok", "error", "not_implemented", "job_error")
NUMERIC_KINDS = "biuf"


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


@dataclasses.dataclass(frozen=True)
class JobResult:
    calls: dict[str, CallResult]
    sandbox: SandboxResult

    @property
    def isolation(self) -> str:
        return self.sandbox.isolation

    def flat_outputs(self) -> dict[str, np.ndarray]:
        """All accepted arrays keyed ``<call id>`` or ``<call id>.<output name>``."""
        return {(f"{call.call_id}.{name}" if name else call.call_id): array
                for call in self.calls.values() for name, array in call.outputs.items()}


class _Rejected(Exception):
    """A file written by the child is not acceptable."""


# --------------------------------------------------------------------------------------------
# Writing the job.


def _array_refs(spec) -> list[str]:
    if isinstance(spec, dict):
        if set(spec) == {"array"}:
            return [spec["array"]]
        return [name for value in spec.values() for name in _array_refs(value)]
    if isinstance(spec, list):
        return [name for value in spec for name in _array_refs(value)]
    return []


def _check_job(calls: Sequence[Mapping], inputs: Mapping[str, np.ndarray]) -> None:
    """Catch grader mistakes here, with a clear message, rather than as job_error in the child."""
    for name, array in inputs.items():
        if not (isinstance(name, str) and INPUT_NAME.fullmatch(name)):
            raise ValueError(f"input names must be identifiers (got {name!r})")
        if not isinstance(array, np.ndarray) or array.dtype.kind not in NUMERIC_KINDS:
            raise TypeError(f"input {name!r} must be a numeric ndarray (got "
                            f"{getattr(array, 'dtype', type(array).__name__)})")
    seen = set()
    for call in calls:
        call_id = call.get("id") if isinstance(call, Mapping) else None
        if not (isinstance(call_id, str) and CALL_ID.fullmatch(call_id)):
            raise ValueError("each call needs an 'id' of letters, digits and _.:- "
                             f"(got {call_id!r})")
        if call_id in seen:
            raise ValueError(f"call ids must be unique (got {call_id!r} twice)")
        seen.add(call_id)
        missing = sorted(set(_array_refs(dict(call))) - set(inputs))
        if missing:
            raise ValueError(f"call {call_id!r} refers to unknown input arrays {missing}")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_job(scratch: Path, calls: Sequence[Mapping], inputs: Mapping[str, np.ndarray],
               patches: Mapping[str, str] | None) -> None:
    job = {"calls": [dict(call) for call in calls], "patches": dict(patches or {})}
    try:
        text = json.dumps(job, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the job must be plain JSON (arrays go in inputs): {exc}") from exc
    _atomic_write(scratch / "job.json", text.encode())
    buffer = io.BytesIO()
    np.savez(buffer, **inputs)
    _atomic_write(scratch / "inputs.npz", buffer.getvalue())


def stage_submission(submission_dir: str | os.PathLike, dest: Path) -> None:
    """Copy the student's package into `dest` with plain permissions (dirs 0755, files 0644) so
    that the sandbox user can read it. Only folders and regular files are copied: symlinks (which
    could point at the kit in the rlimits-only level), FIFOs and devices are left out."""
    source = Path(submission_dir, PACKAGE)
    dest.mkdir(mode=0o755)
    dest.chmod(0o755)
    if not source.is_dir() or source.is_symlink():
        return
    for root, dirs, files in os.walk(source):
        rel = Path(root).relative_to(source)
        target = dest / PACKAGE / rel
        target.mkdir(mode=0o755)
        target.chmod(0o755)
        dirs[:] = [d for d in dirs if d != "__pycache__" and not Path(root, d).is_symlink()]
        for name in files:
            path = Path(root, name)
            if stat.S_ISREG(path.lstat().st_mode):
                shutil.copyfile(path, target / name, follow_symlinks=False)
                (target / name).chmod(0o644)


# --------------------------------------------------------------------------------------------
# Reading the child's answers.


def _read_untrusted(dir_fd: int, name: str, limit: int) -> bytes | None:
    """Bytes of scratch file `name`, or None if absent; _Rejected if it is not a regular file of
    at most `limit` bytes."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _Rejected(f"{name} cannot be opened safely ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Rejected(f"{name} is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise _Rejected(f"{name} is larger than {limit} bytes")
    return data


def _load_array(data: bytes, name: str) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # any parse failure of hostile bytes is a rejection
        raise _Rejected(
            f"{name} is not a valid .npy array ({type(exc).__name__}: {exc})"[:MAX_TEXT]) from None
    if type(array) is not np.ndarray:
        raise _Rejected(f"{name} is not a single array (got {type(array).__name__})")
    if array.dtype.kind not in NUMERIC_KINDS or array.dtype.fields is not None:
        raise _Rejected(f"{name} has dtype {array.dtype}; only bool, int, uint and float arrays "
                        "are accepted")
    return array


def _text(value, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Rejected(f"status field {field!r} must be a string")
    return value[:MAX_TEXT]


def _parse_status(data: bytes) -> dict:
    try:
        status = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Rejected(f"status file is not JSON ({exc})") from None
    if not isinstance(status, dict) or status.get("status") not in CHILD_STATUSES:
        raise _Rejected("status file has no valid 'status'")
    names = status.get("outputs", [])
    errors = status.get("output_errors", {})
    if not (isinstance(names, list) and len(names) <= MAX_OUTPUTS and len(set(names)) == len(names)
            and all(isinstance(n, str) and OUTPUT_NAME.fullmatch(n) for n in names)):
        raise _Rejected("status 'outputs' must be a list of distinct output names")
    if not (isinstance(errors, dict) and len(errors) <= MAX_OUTPUTS
            and all(isinstance(k, str) and OUTPUT_NAME.fullmatch(k) for k in errors)):
        raise _Rejected("status 'output_errors' must map output names to messages")
    return {"status": status["status"], "outputs": names,
            "output_errors": {k: _text(v, "output_errors") for k, v in errors.items()},
            "error_type": _text(status.get("error_type"), "error_type") or None,
            "message": _text(status.get("message"), "message"),
            "traceback": _text(status.get("traceback"), "traceback")}


class _Budget:
    """Total bytes of result files the parent still accepts from this job."""

    def __init__(self, total: int) -> None:
        self.left = total

    def take(self, size: int, name: str) -> None:
        if size > self.left:
            raise _Rejected(f"{name} exceeds the job's total result size limit")
        self.left -= size


def _read_call(dir_fd: int, index: int, call_id: str, limits: Limits, budget: _Budget,
               ended: str) -> CallResult:
    try:
        raw = _read_untrusted(dir_fd, f"status-{index}.json", MAX_STATUS_BYTES)
        if raw is None:
            if _read_untrusted(dir_fd, f"started-{index}", 0) is None:
                return CallResult(call_id, "not_run",
                                  message=f"not run: the child {ended} before it")
            return CallResult(call_id, "crashed", message=f"the child {ended} during this call")
        status = _parse_status(raw)
    except _Rejected as exc:
        return CallResult(call_id, "invalid", message=str(exc))
    outputs, errors = {}, dict(status["output_errors"])
    for j, name in enumerate(status["outputs"]):
        file = f"out-{index}-{j}.npy"
        try:
            data = _read_untrusted(dir_fd, file, limits.max_file_bytes)
            if data is None:
                raise _Rejected(f"{file} is missing")
            budget.take(len(data), file)
            outputs[name] = _load_array(data, file)
        except _Rejected as exc:
            errors[name] = f"rejected by the grader: {exc}"
    return CallResult(call_id, status["status"], outputs, errors, status["error_type"],
                      status["message"], status["traceback"])


def read_results(scratch_dir: str | os.PathLike, call_ids: Sequence[str], limits: Limits,
                 sandbox: SandboxResult) -> dict[str, CallResult]:
    """Validate and load what the child left in `scratch_dir`, one CallResult per call id."""
    ended = ("was stopped: " if sandbox.timed_out else "ended: ") + sandbox.describe()
    budget = _Budget(limits.max_result_bytes)
    dir_fd = os.open(scratch_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return {call_id: _read_call(dir_fd, i, call_id, limits, budget, ended)
                for i, call_id in enumerate(call_ids)}
    finally:
        os.close(dir_fd)


# --------------------------------------------------------------------------------------------


def run_job(submission_dir: str | os.PathLike, calls: Sequence[Mapping],
            inputs: Mapping[str, np.ndarray], *, limits: Limits = Limits(),
            support_file: str | os.PathLike | None = None, patches: Mapping[str, str] | None = None,
            isolation: IsolationLevel | None = None,
            work_dir: str | os.PathLike | None = None) -> JobResult:
    """Run `calls` (see ``child`` for their form) on the `scratchcnn` package in `submission_dir`,
    in one sandboxed child, and return the validated answers. Never raises for anything the
    student's code does; raises ValueError/TypeError for a malformed job.

    support_file: a pure-NumPy file whose functions replace the student's as named by `patches`
    (``{"conv.im2col": "im2col"}``). work_dir: where the temporary job folder goes (default: the
    system's temp folder).
    """
    _check_job(calls, inputs)
    if patches and support_file is None:
        raise ValueError("patches need a support_file")
    with tempfile.TemporaryDirectory(prefix="cnnkit-job-", dir=work_dir,
                                     ignore_cleanup_errors=True) as tmp:
        scratch, submission = Path(tmp, "scratch"), Path(tmp, "submission")
        scratch.mkdir()
        stage_submission(submission_dir, submission)
        _write_job(scratch, calls, inputs, patches)
        ro_binds = [(str(HARNESS), HARNESS_DEST)]
        if support_file is not None:
            support = Path(tmp, "support.py")
            shutil.copyfile(support_file, support)
            support.chmod(0o644)
            ro_binds.append((str(support), SUPPORT_DEST))
        sandbox = Sandbox(submission, scratch, limits=limits, ro_binds=ro_binds,
                          isolation=isolation)

        def argv(paths):
            extra = ["--support", paths.binds[SUPPORT_DEST]] if support_file is not None else []
            return sandbox.python_argv(paths.binds[HARNESS_DEST], "--scratch", paths.scratch,
                                       "--path", paths.lib, "--path", paths.submission, *extra)

        result = sandbox.run(argv)
        answers = read_results(scratch, [call["id"] for call in calls], limits, result)
    return JobResult(answers, result)
