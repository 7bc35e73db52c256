"""Run untrusted student code in a sandbox: real OS isolation with bubblewrap, or a loud fallback.

Trust model
-----------
The grading process (the *parent*) holds everything a student must never see: the reference
implementation, the hidden suites and the expected values. Student code therefore never runs in it.
It runs in a *child* process that receives only the inputs of the calls to make and hands back plain
arrays. The verdict is always computed in the parent; the child can at most produce its own answers
(or forge the files that carry them, which again only yields its own answers), never a verdict.

Isolation levels (``SandboxResult.isolation`` records which one a run used)
--------------------------------------------------------------------------
``bwrap-nobody``  (the parent runs as root, e.g. a grading server, CI or a container)
    bubblewrap puts the child in new user, mount, pid, network, ipc, uts and cgroup namespaces. The
    parent writes the user namespace's uid/gid maps itself (``--userns-block-fd``) so that the
    sandboxed program runs as the host's ``nobody`` (uid/gid 65534), not as root: ``setpriv`` drops
    to it with no supplementary groups, no capabilities (bounding set cleared) and ``no_new_privs``.
    Because the host uid is not 0, the process limit (``RLIMIT_NPROC``) holds: the kernel ignores it
    for root.
``bwrap-user``  (the parent is an ordinary user, e.g. an instructor's laptop)
    The same namespaces with an unprivileged user namespace: uid 65534 inside, the instructor's own
    uid outside; nested user namespaces are disabled (``--disable-userns``).
``rlimits-only``  (bubblewrap is missing or cannot create namespaces here)
    NOT a sandbox: the child runs as the parent's user with resource limits, a scratch working
    directory, a cleared environment and its own session (killed as a process group). It can read
    every file the parent can, use the network and, if the parent is root, ignore the process limit.
    Every such run warns loudly (``RuntimeWarning``) and says so in ``SandboxResult.warnings``.

What the bubblewrap sandbox contains
------------------------------------
The root is an empty tmpfs, read-only once built. Bound read-only: ``/usr`` (with ``/usr/local``
hidden) and the ``/bin``, ``/lib``... links; the Python interpreter's installation prefix with its
``site-packages`` hidden behind empty read-only tmpfs mounts; NumPy (``numpy`` and the wheel's
``numpy.libs``) at its own path; the submission at ``/sandbox/submission``; and any extra read-only
binds (the child harness, the job's inputs). Read-write: only ``/sandbox/scratch``, in
``bwrap-nobody`` a tmpfs of ``Limits.max_scratch_bytes`` that exists only inside the sandbox. A
minimal read-only ``/dev`` (null, zero, urandom... still usable), no ``/proc``, no ``/etc``, no network
but a private loopback. The kit's repository, its virtual environment, ``/root`` and ``/work`` are absent.

Limits (``Limits``): CPU seconds, address space, processes, open files and file size are rlimits
(applied inside the sandbox by ``prlimit``, after the namespaces exist, because since Linux 5.14
``RLIMIT_NPROC`` is counted per user namespace and uid, and set before bwrap it would also count
every process the invoking user owns); the wall-clock limit and the output size are enforced by the
parent, which kills the whole sandbox (bubblewrap's pid namespace dies with it).

The child's answers leave through sockets the runner passes in (``Sandbox.run(pass_fds=...)``),
read by the parent with a byte bound, never through files.

Known gaps: no seccomp filter; outside ``bwrap-nobody`` (not root) the scratch folder's total size
is bounded only by the file-size limit times the number of files the child manages to write
before its limits stop it; in ``bwrap-nobody`` nested user
namespaces stay possible (bubblewrap refuses ``--disable-userns`` with ``--userns-block-fd``), which
gives no access to hidden paths because the sandbox's mounts are locked.
"""

from __future__ import annotations

import ctypes
import dataclasses
import enum
import functools
import json
import os
import re
import resource
import selectors
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

#: The host's ``nobody`` user and ``nogroup`` group (the kernel's overflow ids).
NOBODY_ID = 65534

#: Fixed layout inside the bubblewrap sandbox.
SANDBOX_ROOT = "/sandbox"
SANDBOX_SCRATCH = f"{SANDBOX_ROOT}/scratch"
SANDBOX_SUBMISSION = f"{SANDBOX_ROOT}/submission"

# A child that has exited may leave a grandchild holding its output pipes open (only possible in
# the rlimits-only level, where nothing kills the grandchild): stop reading this long after exit.
_EXIT_GRACE_SECONDS = 0.5
# bubblewrap reports the sandboxed program's death by signal N as exit status 128 + N.
_SIGNAL_EXIT_BASE = 128
_PR_SET_PDEATHSIG = 1
_MEMORY_HINTS = re.compile(rb"\bMemoryError\b|Cannot allocate memory|std::bad_alloc")


class IsolationLevel(str, enum.Enum):
    """How strongly a run was isolated (see the module docstring)."""

    BWRAP_NOBODY = "bwrap-nobody"
    BWRAP_USER = "bwrap-user"
    RLIMITS_ONLY = "rlimits-only"

    @property
    def is_sandboxed(self) -> bool:
        return self is not IsolationLevel.RLIMITS_ONLY


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run.

    cpu_seconds: CPU time of each process (SIGXCPU, then SIGKILL one second later).
    wall_seconds: real time of the whole run, enforced by the parent (the sandbox is killed).
    memory_bytes: address space of each process (NumPy raises MemoryError beyond it).
    max_processes: processes and threads of the sandbox user (a fork bomb stops there).
    max_output_bytes: kept bytes of stdout and of stderr each; the rest is dropped with a note.
    max_file_bytes: size of any file the child writes (results included).
    max_open_files: open file descriptors per process.
    max_result_bytes: total size of the outputs the parent accepts from one job.
    max_scratch_bytes: size of the scratch folder (a tmpfs of this size in ``bwrap-nobody``).
    """

    cpu_seconds: int = 60
    wall_seconds: float = 120.0
    memory_bytes: int = 1024**3
    max_processes: int = 4
    max_output_bytes: int = 64 * 1024
    max_file_bytes: int = 256 * 1024**2
    max_open_files: int = 256
    max_result_bytes: int = 32 * 1024**2
    max_scratch_bytes: int = 64 * 1024**2

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kinds = (int, float) if field.name == "wall_seconds" else int
            if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
                raise ValueError(f"{field.name} must be a positive "
                                 f"{'number' if kinds != int else 'integer'} (got {value!r})")

    def rlimits(self) -> list[tuple[str, int, int]]:
        """(prlimit option, soft, hard) triples; the names double as ``resource.RLIMIT_*``."""
        return [
            ("cpu", self.cpu_seconds, self.cpu_seconds + 1),
            ("as", self.memory_bytes, self.memory_bytes),
            ("nproc", self.max_processes, self.max_processes),
            ("fsize", self.max_file_bytes, self.max_file_bytes),
            ("nofile", self.max_open_files, self.max_open_files),
            ("core", 0, 0),
        ]


@dataclasses.dataclass(frozen=True)
class SandboxStatus:
    """Which isolation level this machine gives, and why stronger ones are not available."""

    level: IsolationLevel
    bwrap: str | None
    bwrap_version: str | None
    reasons: tuple[str, ...] = ()

    def describe(self) -> str:
        text = f"isolation level: {self.level.value}"
        if self.bwrap:
            text += f" ({self.bwrap_version or 'bwrap'} at {self.bwrap})"
        return "; ".join([text, *self.reasons])


@dataclasses.dataclass(frozen=True)
class SandboxPaths:
    """Where things are as seen by the sandboxed program (they differ between isolation levels).

    python: the interpreter; lib: the folder to put on ``sys.path`` for NumPy; binds maps each
    requested read-only bind destination to the path the program sees it at.
    """

    python: str
    scratch: str
    submission: str
    lib: str
    binds: Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class SandboxResult:
    """Outcome of one sandboxed run. Everything here except ``isolation``, ``timed_out`` and
    ``wall_seconds`` comes from the untrusted child (``memory_exceeded`` is a hint read from its
    stderr)."""

    returncode: int | None
    signal: int | None
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    timed_out: bool
    memory_exceeded: bool
    isolation: str
    wall_seconds: float
    warnings: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for a grading report: how the run ended."""
        if self.timed_out:
            return f"stopped after the wall-clock limit ({self.wall_seconds:.1f} s)"
        if self.signal is not None:
            name = signal.Signals(self.signal).name if self.signal in _SIGNALS else str(self.signal)
            cpu = " (CPU time limit)" if self.signal == signal.SIGXCPU else ""
            return f"killed by signal {name}{cpu}"
        return f"exited with status {self.returncode}"


_SIGNALS = {s.value for s in signal.Signals}


# --------------------------------------------------------------------------------------------
# The Python runtime the sandbox needs: interpreter, standard library, NumPy.


@dataclasses.dataclass(frozen=True)
class _PythonRuntime:
    interpreter: str
    prefixes: tuple[str, ...]
    hidden_site_dirs: tuple[str, ...]
    numpy_dirs: tuple[str, ...]
    lib: str


@functools.cache
def _python_runtime() -> _PythonRuntime:
    """Locate the base interpreter (not the venv), its prefixes, its site dirs and NumPy."""
    import numpy

    interpreter = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    prefixes = tuple(dict.fromkeys(os.path.realpath(p)
                                   for p in (sys.base_prefix, sys.base_exec_prefix)))
    site_dirs = site.getsitepackages(list(prefixes))
    numpy_dir = os.path.dirname(os.path.realpath(numpy.__file__))
    lib = os.path.dirname(numpy_dir)
    numpy_dirs = tuple(d for d in (numpy_dir, os.path.join(lib, "numpy.libs")) if os.path.isdir(d))
    libdir = sysconfig.get_config_var("LIBDIR")
    if sysconfig.get_config_var("Py_ENABLE_SHARED") and libdir and not _under_any(
            os.path.realpath(libdir), prefixes + ("/usr",)):
        prefixes += (os.path.realpath(libdir),)
    return _PythonRuntime(
        interpreter=interpreter,
        prefixes=prefixes,
        hidden_site_dirs=tuple(os.path.realpath(d) for d in site_dirs if os.path.isdir(d)),
        numpy_dirs=numpy_dirs,
        lib=lib,
    )


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _under_any(path: str, roots: Sequence[str]) -> bool:
    return any(_under(path, root) for root in roots)


# --------------------------------------------------------------------------------------------
# The bubblewrap command line.


class _BwrapArgs:
    """Builds bubblewrap's mount arguments; creates each missing parent folder explicitly with
    mode 0755 (bubblewrap would otherwise create some of them 0700, unreadable for nobody)."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self._dirs: set[str] = {"/"}

    def _parents(self, dest: str) -> None:
        parent = os.path.dirname(dest)
        if parent not in self._dirs:
            self._parents(parent)
            self.args += ["--perms", "0755", "--dir", parent]
            self._dirs.add(parent)

    def mount(self, option: str, dest: str) -> None:
        """A mount with no source: --tmpfs, --dev."""
        self._parents(dest)
        self.args += [option, dest]
        self._dirs.add(dest)

    def bind(self, option: str, src: str, dest: str) -> None:
        """--ro-bind or --bind of host path `src` at `dest`."""
        self._parents(dest)
        self.args += [option, src, dest]
        self._dirs.add(dest)

    def symlink(self, target: str, dest: str) -> None:
        self.args += ["--symlink", target, dest]


def _filesystem_args(runtime: _PythonRuntime, submission: str, scratch: str,
                     ro_binds: Sequence[tuple[str, str]]) -> list[str]:
    """Mount arguments for the layout described in the module docstring."""
    fs = _BwrapArgs()
    fs.bind("--ro-bind", "/usr", "/usr")
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            fs.symlink(os.readlink(path), path)
        elif os.path.isdir(path):
            fs.bind("--ro-bind", path, path)
    hidden = [d for d in ("/usr/local",) if os.path.isdir(d)]
    for path in hidden:
        fs.mount("--tmpfs", path)
    bound: list[str] = []

    def visible(path: str) -> bool:
        return _under_any(path, bound) or (_under(path, "/usr") and not _under_any(path, hidden))

    for path in (*runtime.prefixes, runtime.interpreter):
        if not visible(path):
            fs.bind("--ro-bind", path, path)
            bound.append(path)
    for site_dir in runtime.hidden_site_dirs:
        fs.mount("--tmpfs", site_dir)
        hidden.append(site_dir)
    for path in runtime.numpy_dirs:
        fs.bind("--ro-bind", path, path)
    fs.bind("--ro-bind", submission, SANDBOX_SUBMISSION)
    fs.bind("--bind", scratch, SANDBOX_SCRATCH)
    for src, dest in ro_binds:
        fs.bind("--ro-bind", os.path.realpath(src), dest)
    fs.mount("--dev", "/dev")  # device nodes are their own mounts and stay writable (/dev/null)
    for path in [*hidden, "/dev"]:
        fs.args += ["--remount-ro", path]
    fs.args += ["--remount-ro", "/"]
    return fs.args


def _environment(paths: SandboxPaths) -> dict[str, str]:
    """The child's whole environment: nothing is inherited from the parent."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": paths.scratch,
        "TMPDIR": paths.scratch,
        "LANG": "C.UTF-8",
        # One BLAS/OpenMP thread: threads count against the process limit, and grading is serial.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _bwrap_command(level: IsolationLevel, bwrap: str, limits: Limits, paths: SandboxPaths,
                   fs_args: list[str], argv: Sequence[str], sync_fds: tuple[int, int] | None
                   ) -> list[str]:
    """The whole bubblewrap command: namespaces, uid handling, mounts, environment, limits."""
    cmd = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
           "--hostname", "sandbox", "--cap-drop", "ALL"]
    inner: list[str] = []
    if level is IsolationLevel.BWRAP_NOBODY:
        info_fd, block_fd = sync_fds  # type: ignore[misc]
        # The parent maps uids itself (see _map_to_nobody); setpriv then needs these three
        # capabilities, only inside the sandbox's user namespace, to become nobody.
        cmd += ["--userns-block-fd", str(block_fd), "--info-fd", str(info_fd)]
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
            cmd += ["--cap-add", cap]
        inner += ["setpriv", f"--reuid={NOBODY_ID}", f"--regid={NOBODY_ID}", "--clear-groups",
                  "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    else:
        cmd += ["--disable-userns", "--uid", str(NOBODY_ID), "--gid", str(NOBODY_ID)]
    cmd += fs_args + ["--chdir", paths.scratch, "--clearenv"]
    for key, value in _environment(paths).items():
        cmd += ["--setenv", key, value]
    inner += ["prlimit", *(f"--{name}={soft}:{hard}" for name, soft, hard in limits.rlimits()),
              "--"]
    return cmd + ["--", *inner, *argv]


def _with_sized_scratch(cmd: list[str], scratch: str, limits: Limits) -> list[str]:
    """`cmd` run in a mount namespace of its own where `scratch` is a tmpfs of
    ``limits.max_scratch_bytes``, owned by nobody (0711: bubblewrap, namespaced root without
    capabilities, must be able to chdir into it). The mount exists only for the sandbox: it goes
    with the namespace, so nothing the child writes there outlives the run or reaches the host's
    disk. bubblewrap 0.8 has no ``--size``; as root, ``unshare`` and ``mount`` do it."""
    script = ('mount -t tmpfs -o "size=$1,uid=$2,gid=$2,mode=0711,nosuid,nodev" cnnkit-scratch '
              '"$0" && shift 2 && exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, scratch,
            str(limits.max_scratch_bytes), str(NOBODY_ID), *cmd]


def _map_to_nobody(proc: subprocess.Popen, info_read: int, block_write: int) -> str | None:
    """Give bubblewrap's new user namespace the map {0 -> host 0, 65534 -> host 65534}.

    bubblewrap builds the sandbox as (namespaced) root, which must be mapped; setpriv then drops to
    65534, which is the host's nobody. Returns an error message, or None on success.
    """
    try:
        info = _read_until_eof(info_read, deadline=time.monotonic() + 10.0)
        child = int(json.loads(info)["child-pid"])
        mapping = f"0 0 1\n{NOBODY_ID} {NOBODY_ID} 1\n"
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{child}/{name}", "w") as handle:
                handle.write(mapping)
        os.write(block_write, b"1")
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"could not map the sandbox user to nobody: {exc}"
    finally:
        os.close(info_read)
        os.close(block_write)


def _read_until_eof(fd: int, deadline: float) -> bytes:
    data = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(max(0.0, deadline - time.monotonic())):
                chunk = os.read(fd, 4096)
                if not chunk:
                    return data
                data += chunk
    raise TimeoutError("bubblewrap did not report its sandbox process in time")


# --------------------------------------------------------------------------------------------
# Running and collecting output.


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the thread that started it dies (Linux's
    PR_SET_PDEATHSIG), so a grader that is killed leaves nothing of its own running."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _set_rlimits(limits: Limits) -> None:
    """preexec_fn of the rlimits-only level (runs in the forked child before exec)."""
    die_with_parent()
    for name, soft, hard in limits.rlimits():
        resource.setrlimit(getattr(resource, f"RLIMIT_{name.upper()}"), (soft, hard))


class _Output:
    """One output stream: keeps the first `limit` bytes, counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = max(0, self.limit - len(self.data))
        self.data += chunk[:room]
        self.dropped += len(chunk) - min(room, len(chunk))

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        if self.dropped:
            text += (f"\n[sandbox: output truncated; {self.dropped} more bytes dropped "
                     f"(limit {self.limit} bytes)]\n")
        return text


def _kill(proc: subprocess.Popen) -> None:
    """Kill the process group of `proc` (it leads its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _collect(proc: subprocess.Popen, limits: Limits,
             started: float) -> tuple[_Output, _Output, bool]:
    """Read stdout/stderr with bounded memory until the child is gone; kill it at the wall limit."""
    outputs = {proc.stdout.fileno(): _Output(limits.max_output_bytes),
               proc.stderr.fileno(): _Output(limits.max_output_bytes)}
    deadline = started + limits.wall_seconds
    timed_out = False
    exited_at = None
    with selectors.DefaultSelector() as sel:
        for fd in outputs:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > _EXIT_GRACE_SECONDS:
                break
            if not timed_out and now >= deadline:
                _kill(proc)
                timed_out = True
                deadline = now + 5.0  # after SIGKILL the pipes close at once; never wait forever
            elif timed_out and now >= deadline:
                break
            for key, _ in sel.select(timeout=min(0.1, max(0.0, deadline - now))):
                chunk = os.read(key.fd, 65536)
                if chunk:
                    outputs[key.fd].add(chunk)
                else:
                    sel.unregister(key.fd)
    _kill(proc)  # leftovers of the rlimits-only level; no-op for a finished bubblewrap
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    out, err = outputs.values()
    return out, err, timed_out


# --------------------------------------------------------------------------------------------
# Public API.


def _probe(level: IsolationLevel) -> str | None:
    """Run `import numpy` in a real sandbox of `level`; None if it worked, else why not."""
    with tempfile.TemporaryDirectory(prefix="cnnkit-probe-") as tmp:
        submission, scratch = Path(tmp, "submission"), Path(tmp, "scratch")
        submission.mkdir()
        scratch.mkdir()
        submission.chmod(0o755)
        sandbox = Sandbox(submission, scratch, limits=Limits(wall_seconds=30.0), isolation=level)
        result = sandbox.run(lambda paths: sandbox.python_argv(
            "-c", f"import sys; sys.path.insert(0, {paths.lib!r}); import numpy; print('ok')"))
    if result.returncode == 0 and result.stdout.strip() == "ok":
        return None
    return f"{level.value} failed ({result.describe()}): {result.stderr.strip()[:500]}"


@functools.cache
def sandbox_status() -> SandboxStatus:
    """Probe (once per process) which isolation level works here, and why stronger ones do not."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return SandboxStatus(IsolationLevel.RLIMITS_ONLY, None, None, (
            "bubblewrap (bwrap) is not installed; on Debian/Ubuntu: apt-get install bubblewrap",))
    try:
        version = subprocess.run([bwrap, "--version"], capture_output=True, text=True,
                                 timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return SandboxStatus(IsolationLevel.RLIMITS_ONLY, bwrap, None,
                             (f"bwrap does not run: {exc}",))
    level = IsolationLevel.BWRAP_NOBODY if os.geteuid() == 0 else IsolationLevel.BWRAP_USER
    failure = _probe(level)
    if failure is None:
        return SandboxStatus(level, bwrap, version)
    return SandboxStatus(IsolationLevel.RLIMITS_ONLY, bwrap, version, (
        failure, "if bwrap cannot create namespaces: user namespaces may be disabled (sysctl "
                 "kernel.unprivileged_userns_clone, user.max_user_namespaces, AppArmor's "
                 "restrict_unprivileged_userns) or blocked by a container's seccomp profile"))


def fallback_warning(why: str) -> str:
    return ("cnnkit autograder: NO SANDBOX. Student code runs with resource limits only and can "
            "read every file this user can (the reference, the hidden suites, other students' "
            f"work) and use the network. Why: {why}")


class Sandbox:
    """One sandbox configuration: a submission (read-only), a scratch folder (read-write), limits.

    submission_dir is bound at ``/sandbox/submission``; it must be readable by uid 65534 (the
    runner stages a copy with plain permissions). scratch_dir is bound at ``/sandbox/scratch``;
    in ``bwrap-nobody`` it is chowned to nobody. ro_binds are extra ``(host path, sandbox path)``
    read-only binds. isolation=None picks the best level ``sandbox_status()`` found; asking for a
    bubblewrap level explicitly skips the probe.
    """

    def __init__(self, submission_dir: str | os.PathLike, scratch_dir: str | os.PathLike, *,
                 limits: Limits = Limits(), ro_binds: Sequence[tuple[str | os.PathLike, str]] = (),
                 isolation: IsolationLevel | None = None) -> None:
        self.submission_dir = os.path.realpath(submission_dir)
        self.scratch_dir = os.path.realpath(scratch_dir)
        for name, path in (("submission_dir", self.submission_dir),
                           ("scratch_dir", self.scratch_dir)):
            if not os.path.isdir(path):
                raise ValueError(f"{name} must be an existing folder (got {path!r})")
        self.ro_binds = [(os.fspath(src), dest) for src, dest in ro_binds]
        for src, dest in self.ro_binds:
            if (not os.path.isabs(dest) or not _under(dest, SANDBOX_ROOT) or dest == SANDBOX_ROOT
                    or _under_any(dest, (SANDBOX_SCRATCH, SANDBOX_SUBMISSION))):
                raise ValueError(f"ro_binds destination must be a new path under {SANDBOX_ROOT}/ "
                                 f"(got {dest!r})")
            if not os.path.exists(src):
                raise ValueError(f"ro_binds source must exist (got {src!r})")
        self.limits = limits
        why = "requested by the caller"
        if isolation is None:
            status = sandbox_status()
            isolation, why = status.level, status.describe()
        self.isolation = IsolationLevel(isolation)
        self.warnings = () if self.isolation.is_sandboxed else (fallback_warning(why),)
        self._bwrap = shutil.which("bwrap")
        if self.isolation.is_sandboxed and self._bwrap is None:
            raise ValueError(f"isolation {self.isolation.value} needs bwrap, "
                             "which is not installed")

    @property
    def paths(self) -> SandboxPaths:
        runtime = _python_runtime()
        if self.isolation.is_sandboxed:
            return SandboxPaths(runtime.interpreter, SANDBOX_SCRATCH, SANDBOX_SUBMISSION,
                                runtime.lib, {dest: dest for _, dest in self.ro_binds})
        return SandboxPaths(runtime.interpreter, self.scratch_dir, self.submission_dir, runtime.lib,
                            {dest: os.path.realpath(src) for src, dest in self.ro_binds})

    def python_argv(self, *args: str) -> list[str]:
        """The interpreter in isolated mode (-I: no user site, no PYTHON* variables, no script
        folder on sys.path; -S: no site-packages; -B: no .pyc writes) followed by `args`."""
        return [self.paths.python, "-I", "-S", "-B", *args]

    def run(self, argv: Sequence[str] | Callable[[SandboxPaths], Sequence[str]],
            pass_fds: Sequence[int] = ()) -> SandboxResult:
        """Run `argv` (or `argv(self.paths)`) in the sandbox, with the open file descriptors
        `pass_fds` inherited (the runner's sockets). Never raises for anything the child does;
        returns when the child is gone, at the latest shortly after the wall-clock limit."""
        argv = list(argv(self.paths) if callable(argv) else argv)
        for message in self.warnings:
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        started = time.monotonic()
        proc, setup_error = self._spawn(argv, tuple(pass_fds))
        out, err, timed_out = _collect(proc, self.limits, started)
        if setup_error:
            err.add(f"\n[sandbox: {setup_error}]\n".encode())
        return self._result(proc.returncode, out, err, timed_out, time.monotonic() - started)

    def _spawn(self, argv: list[str], pass_fds: tuple[int, ...]
               ) -> tuple[subprocess.Popen, str | None]:
        common = dict(stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                      start_new_session=True)
        if not self.isolation.is_sandboxed:
            return subprocess.Popen(argv, cwd=self.scratch_dir, env=_environment(self.paths),
                                    preexec_fn=functools.partial(_set_rlimits, self.limits),
                                    pass_fds=pass_fds, **common), None
        fs_args = _filesystem_args(_python_runtime(), self.submission_dir, self.scratch_dir,
                                   self.ro_binds)
        if self.isolation is IsolationLevel.BWRAP_USER:
            cmd = _bwrap_command(self.isolation, self._bwrap, self.limits, self.paths, fs_args,
                                 argv, None)
            return subprocess.Popen(cmd, env={}, pass_fds=pass_fds, **common), None
        info_read, info_write = os.pipe()
        block_read, block_write = os.pipe()
        cmd = _bwrap_command(self.isolation, self._bwrap, self.limits, self.paths, fs_args, argv,
                             (info_write, block_read))
        try:
            # extra_groups=[]: root's supplementary groups must not reach the sandbox.
            proc = subprocess.Popen(_with_sized_scratch(cmd, self.scratch_dir, self.limits),
                                    env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                                    pass_fds=(info_write, block_read, *pass_fds),
                                    extra_groups=[], **common)
        finally:
            os.close(info_write)
            os.close(block_read)
        error = _map_to_nobody(proc, info_read, block_write)
        if error:
            _kill(proc)
        return proc, error

    def _result(self, returncode: int, out: _Output, err: _Output, timed_out: bool,
                wall: float) -> SandboxResult:
        sig = None
        if returncode < 0:
            sig = -returncode
        elif self.isolation.is_sandboxed and returncode > _SIGNAL_EXIT_BASE and (
                returncode - _SIGNAL_EXIT_BASE) in _SIGNALS:
            sig = returncode - _SIGNAL_EXIT_BASE
        return SandboxResult(
            returncode=returncode, signal=sig, stdout=out.text(), stderr=err.text(),
            stdout_truncated=bool(out.dropped), stderr_truncated=bool(err.dropped),
            timed_out=timed_out, memory_exceeded=bool(_MEMORY_HINTS.search(bytes(err.data))),
            isolation=self.isolation.value, wall_seconds=wall, warnings=self.warnings)


def run_in_sandbox(argv: Sequence[str] | Callable[[SandboxPaths], Sequence[str]], *,
                   submission_dir: str | os.PathLike, scratch_dir: str | os.PathLike,
                   limits: Limits = Limits(), ro_binds: Sequence[tuple[str, str]] = (),
                   isolation: IsolationLevel | None = None) -> SandboxResult:
    """Run one command in a new sandbox; see ``Sandbox``. Pass a callable for `argv` when the
    command names paths inside the sandbox: it receives the ``SandboxPaths`` of the level used."""
    return Sandbox(submission_dir, scratch_dir, limits=limits, ro_binds=ro_binds,
                   isolation=isolation).run(argv)
