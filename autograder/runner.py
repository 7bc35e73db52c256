"""Parent side of a sandboxed grading job: send inputs to the child harness, read back its answers.

The parent (this module) is the only side that is trusted. It writes ``job.json`` and
``inputs.npz`` into a fresh job folder (bound read-only into the sandbox), runs ``child.py`` in the
sandbox (see ``sandbox``) and reads the child's answers from the results socket as they come. Where
the job serves reference functions (grading phase N on top of correct phases < N), it also starts
``reference_server`` in a process of its own, connected to the child by a second socket: the
reference never enters the sandbox. Everything read from the child is hostile data:

- frames are size-bounded (one output, and all outputs of the job together), their call index
  and output name checked, and reading stops counting at the job's total result size;
- arrays are read with ``np.load(allow_pickle=False)`` and must be plain numeric ndarrays
  (bool, int, uint, float; no object, string or structured dtypes);
- status records are size-bounded JSON whose fields are checked one by one; text fields are cut
  short and an exception's type name is kept only if it is a builtin one.

Nothing the child sends can change a verdict: expected values never enter the sandbox and every
comparison happens in the parent, on the arrays returned here. A child that forges frames can only
hand in answers of its own, which it could also have computed.

Per call, ``CallResult.status`` is one of:

``ok``               the call returned; ``outputs`` holds its arrays (unusable ones are in
                     ``output_errors``)
``error``            the student's code raised (``error_type``, ``message``, ``traceback``)
``not_implemented``  it raised NotImplementedError
``job_error``        the job was malformed or serving the reference failed (a grader bug)
``crashed``          the child died or was stopped during this call (``message`` says how)
``not_run``          the child was gone before this call started
``invalid``          the child's status record for this call was unreadable or malformed
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .results import CallResult, ResultReader
from .sandbox import (
    SANDBOX_ROOT, IsolationLevel, Limits, Sandbox, SandboxResult, die_with_parent,
)

HARNESS = [Path(__file__).with_name(name) for name in ("child.py", "wire.py")]
HARNESS_DIR = f"{SANDBOX_ROOT}/harness"
JOB_DIR = f"{SANDBOX_ROOT}/job"
PACKAGE = "scratchcnn"

CALL_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}")
INPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
SERVED_TARGET = re.compile(r"[a-z_]+\.[A-Za-z_][A-Za-z0-9_]*")
NUMERIC_KINDS = "biuf"


@dataclasses.dataclass(frozen=True)
class JobResult:
    """The validated answers of one job, by call id, and how the sandbox run ended."""

    calls: dict[str, CallResult]
    sandbox: SandboxResult

    @property
    def isolation(self) -> str:
        return self.sandbox.isolation

    def flat_outputs(self) -> dict[str, np.ndarray]:
        """All accepted arrays keyed ``<call id>`` or ``<call id>.<output name>``."""
        return {(f"{call.call_id}.{name}" if name else call.call_id): array
                for call in self.calls.values() for name, array in call.outputs.items()}


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


def _check_job(calls: Sequence[Mapping], inputs: Mapping[str, np.ndarray],
               serve: Sequence[str]) -> None:
    """Catch grader mistakes here, with a clear message, rather than as job_error in the child."""
    for target in serve:
        if not (isinstance(target, str) and SERVED_TARGET.fullmatch(target)):
            raise ValueError(f"served targets look like 'module.name' (got {target!r})")
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


def _write_job(folder: Path, calls: Sequence[Mapping], inputs: Mapping[str, np.ndarray],
               serve: Sequence[str]) -> None:
    """job.json and inputs.npz in `folder` (bound read-only into the sandbox), readable by all."""
    job = {"calls": [dict(call) for call in calls], "serve": list(serve)}
    try:
        text = json.dumps(job, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the job must be plain JSON (arrays go in inputs): {exc}") from exc
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    (folder / "job.json").write_text(text)
    buffer = io.BytesIO()
    np.savez(buffer, **inputs)
    (folder / "inputs.npz").write_bytes(buffer.getvalue())
    for name in ("job.json", "inputs.npz"):
        (folder / name).chmod(0o644)


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


def _start_reference_server(serve: Sequence[str], limits: Limits
                            ) -> tuple[subprocess.Popen, socket.socket]:
    """The reference server (see ``reference_server``) and the socket end for the child. It runs
    the reference on inputs the student's code chooses, so it gets the child's memory and CPU
    limits; the caller kills it when the job ends."""
    server_end, child_end = socket.socketpair()

    def limit():
        die_with_parent()
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))

    command = [sys.executable, "-m", "cnnkit.autograder.reference_server",
               "--fd", str(server_end.fileno()), *(f"--serve={t}" for t in serve)]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    try:
        server = subprocess.Popen(command, pass_fds=(server_end.fileno(),), preexec_fn=limit,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    finally:
        server_end.close()
    return server, child_end


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def run_job(submission_dir: str | os.PathLike, calls: Sequence[Mapping],
            inputs: Mapping[str, np.ndarray], *, limits: Limits = Limits(),
            serve: Sequence[str] = (), isolation: IsolationLevel | None = None,
            work_dir: str | os.PathLike | None = None) -> JobResult:
    """Run `calls` (see ``child`` for their form) on the `scratchcnn` package in `submission_dir`,
    in one sandboxed child, and return the validated answers. Never raises for anything the
    student's code does; raises ValueError/TypeError for a malformed job.

    serve: the student's functions or classes to replace by the reference's, called outside the
    sandbox (``["conv.im2col"]``). work_dir: where the temporary job folder goes (default: the
    system's temp folder).
    """
    _check_job(calls, inputs, serve)
    with tempfile.TemporaryDirectory(prefix="cnnkit-job-", dir=work_dir,
                                     ignore_cleanup_errors=True) as tmp:
        scratch, submission, job = Path(tmp, "scratch"), Path(tmp, "submission"), Path(tmp, "job")
        scratch.mkdir()
        stage_submission(submission_dir, submission)
        _write_job(job, calls, inputs, serve)
        ro_binds = [(str(job), JOB_DIR)] + [(str(f), f"{HARNESS_DIR}/{f.name}") for f in HARNESS]
        sandbox = Sandbox(submission, scratch, limits=limits, ro_binds=ro_binds,
                          isolation=isolation)
        parent_end, results_end = socket.socketpair()
        server, reference_end = _start_reference_server(serve, limits) if serve else (None, None)
        child_fds = [results_end.fileno()] + ([reference_end.fileno()] if serve else [])
        reader = ResultReader(parent_end, [call["id"] for call in calls], limits)
        reader.start()

        def argv(paths):
            extra = ["--reference-fd", str(reference_end.fileno())] if serve else []
            return sandbox.python_argv(paths.binds[f"{HARNESS_DIR}/child.py"],
                                       "--job", paths.binds[JOB_DIR],
                                       "--results-fd", str(results_end.fileno()), *extra,
                                       "--path", paths.lib, "--path", paths.submission)

        try:
            result = sandbox.run(argv, pass_fds=child_fds)
        finally:
            results_end.close()
            if server is not None:
                reference_end.close()
                _stop(server)
            reader.finish()
    return JobResult(reader.calls(result), result)
