"""The sandbox layer of the autograder against a small adversarial corpus.

Each test builds a tiny fake `scratchcnn` package with one trick in a temporary folder and runs it
through `run_job` (or `run_in_sandbox`). For every trick the runner must return (never raise, never
hang) and the parent must get back only sane arrays or a clear per-call error.

Tests that need real isolation (reading the kit, writing outside scratch, the network, the process
limit) are skipped, with the reason, only when `sandbox_status()` finds no working bubblewrap. Set
CNNKIT_REQUIRE_SANDBOX=1 (CI does) to turn a missing sandbox into a failure instead.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import cnnkit
from cnnkit.autograder.runner import run_job
from cnnkit.paths import KIT_ROOT, import_scratchcnn
from cnnkit.phases import PHASES
from cnnkit.autograder.sandbox import IsolationLevel, Limits, run_in_sandbox, sandbox_status

LIMITS = Limits(cpu_seconds=3, wall_seconds=5, memory_bytes=512 * 1024**2, max_processes=16,
                max_output_bytes=4096, max_file_bytes=16 * 1024**2)
HANG_GUARD_SECONDS = 30
REF = import_scratchcnn(KIT_ROOT / "solutions", ("conv",), "_cnnkit_reference")

STATUS = sandbox_status()
requires_sandbox = pytest.mark.skipif(
    not STATUS.level.is_sandboxed,
    reason=f"needs a working bubblewrap sandbox; {STATUS.describe()}")


def make_submission(tmp_path: Path, **modules: str) -> Path:
    """A submission folder holding `scratchcnn/<name>.py` for each keyword (dedented source)."""
    package = tmp_path / "submission" / "scratchcnn"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(modules.pop("init", "")))
    for name, source in modules.items():
        (package / f"{name}.py").write_text(textwrap.dedent(source))
    return package.parent


def call(call_id: str, target: str, *args, **kwargs) -> dict:
    return {"id": call_id, "call": target, "args": list(args), "kwargs": kwargs}


X = {"array": "x"}
INPUTS = {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}


def processes_named(name: str) -> list[int]:
    """Pids of live processes whose command name (/proc/PID/comm) is `name`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            comm = (entry / "comm").read_text().strip() if entry.name.isdigit() else ""
        except OSError:
            continue
        if comm == name:
            found.append(int(entry.name))
    return found


# ----------------------------------------------------------------------------------------------
# Status, limits and the generic runner.


def test_sandbox_status_names_the_level_and_why_not_better():
    assert STATUS.describe().startswith(f"isolation level: {STATUS.level.value}")
    if not STATUS.level.is_sandboxed:
        assert STATUS.reasons, "a fallback must say why bubblewrap is not used"
    if os.environ.get("CNNKIT_REQUIRE_SANDBOX") == "1":
        assert STATUS.level.is_sandboxed, STATUS.describe()


@pytest.mark.parametrize("field", ["cpu_seconds", "wall_seconds", "memory_bytes", "max_processes"])
def test_limits_reject_non_positive_values(field):
    with pytest.raises(ValueError, match=field):
        Limits(**{field: 0})


def test_limits_other_than_wall_time_must_be_integers():
    with pytest.raises(ValueError, match="cpu_seconds must be a positive integer"):
        Limits(cpu_seconds=1.5)


@pytest.mark.parametrize("level", [None, IsolationLevel.RLIMITS_ONLY])
def test_run_in_sandbox_reports_exit_status_and_output(tmp_path, level, recwarn):
    (tmp_path / "sub").mkdir()
    (tmp_path / "scratch").mkdir()
    result = run_in_sandbox(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"],
                            submission_dir=tmp_path / "sub", scratch_dir=tmp_path / "scratch",
                            limits=LIMITS, isolation=level)
    assert (result.returncode, result.signal, result.timed_out) == (3, None, False)
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert result.isolation == (level or STATUS.level).value


def test_fallback_level_warns_loudly_and_is_recorded(tmp_path):
    submission = make_submission(tmp_path, conv="def double(x):\n    return x * 2\n")
    with pytest.warns(RuntimeWarning, match="NO SANDBOX"):
        result = run_job(submission, [call("d", "conv.double", X)], INPUTS, limits=LIMITS,
                         isolation=IsolationLevel.RLIMITS_ONLY)
    assert result.isolation == "rlimits-only"
    assert result.sandbox.warnings and "NO SANDBOX" in result.sandbox.warnings[0]
    np.testing.assert_array_equal(result.calls["d"].outputs[""], INPUTS["x"] * 2)


# ----------------------------------------------------------------------------------------------
# The protocol with an honest submission.

HONEST = dict(
    conv="""
        import numpy as np

        def scale(x, factor=2.0):
            return x * factor

        def forward(x, shift):
            return x + shift, {"x": x}          # (out, opaque cache)

        def backward(dout, cache):
            return dout * cache["x"], dout.sum()
    """,
    layers="""
        import numpy as np

        class Dense:
            def __init__(self, in_features, out_features, rng=None):
                self.params = {"w": np.zeros((in_features, out_features), np.float32),
                               "b": np.zeros(out_features, np.float32)}
                self.grads = {}

            def forward(self, x):
                self.x = x
                return x @ self.params["w"] + self.params["b"]

            def backward(self, dout):
                self.grads = {"w": self.x.T @ dout, "b": dout.sum(axis=0)}
                return dout @ self.params["w"].T

        class ReLU:
            def __init__(self):
                self.params, self.grads = {}, {}

            def forward(self, x):
                self.mask = x > 0
                return x * self.mask

            def backward(self, dout):
                raise NotImplementedError("ReLU.backward")
    """,
    model="""
        class CNN:
            def __init__(self, layers):
                self.layers = layers

            def forward(self, x):
                for layer in self.layers:
                    x = layer.forward(x)
                return x

            def backward(self, dout):
                for layer in reversed(self.layers):
                    dout = layer.backward(dout)
                return dout

            @property
            def grads(self):
                return {f"{i}.{k}": g for i, layer in enumerate(self.layers)
                        for k, g in layer.grads.items()}

        class SGD:
            def __init__(self, lr, momentum=0.9):
                self.lr, self.momentum, self.velocity = lr, momentum, {}

            def step(self, params, grads):
                for key in params:
                    v = self.momentum * self.velocity.get(key, 0.0) - self.lr * grads[key]
                    self.velocity[key] = v
                    params[key] += v
    """,
)


def honest_job(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    dout = rng.standard_normal((4, 2)).astype(np.float32)
    g1, g2 = rng.standard_normal((2, 3, 2))
    inputs = {"x": x, "w": w, "b": b, "dout": dout, "p": w.astype(np.float64), "g1": g1, "g2": g2}
    dense = {"class": "layers.Dense", "init": {"in_features": 3, "out_features": 2}}
    calls = [
        call("scale", "conv.scale", {"array": "x"}, factor=3.0),
        dict(call("fwd", "conv.forward", {"array": "x"}, 1.5), select=[0]),
        {"id": "fb", "recipe": "fwd_bwd", "forward": "conv.forward", "args": [{"array": "x"}, 0.5],
         "backward": "conv.backward", "dout": {"array": "x"}},
        {"id": "dense", "recipe": "layer", **dense,
         "params": {"w": {"array": "w"}, "b": {"array": "b"}},
         "forward": {"array": "x"}, "backward": {"array": "dout"}},
        {"id": "relu", "recipe": "layer", "class": "layers.ReLU", "forward": {"array": "x"},
         "backward": {"array": "x"}},
        {"id": "cnn", "recipe": "model", "class": "model.CNN", "layers": [dense],
         "params": {"0.w": {"array": "w"}, "0.b": {"array": "b"}},
         "forward": {"array": "x"}, "backward": {"array": "dout"}},
        {"id": "sgd", "recipe": "optimizer", "class": "model.SGD",
         "init": {"lr": 0.1, "momentum": 0.5}, "params": {"w": {"array": "p"}},
         "grads": [{"w": {"array": "g1"}}, {"w": {"array": "g2"}}]},
    ]
    return calls, inputs


@pytest.mark.parametrize("level", [None, IsolationLevel.RLIMITS_ONLY])
def test_honest_submission_round_trips_every_recipe(tmp_path, level, recwarn):
    calls, inp = honest_job(np.random.default_rng(0))
    x, w, b, dout = inp["x"], inp["w"], inp["b"], inp["dout"]
    result = run_job(make_submission(tmp_path, **HONEST), calls, inp, limits=LIMITS,
                     isolation=level)
    got = {cid: c.outputs for cid, c in result.calls.items()}
    assert {cid: c.status for cid, c in result.calls.items()} == {
        "scale": "ok", "fwd": "ok", "fb": "ok", "dense": "ok", "relu": "not_implemented",
        "cnn": "ok", "sgd": "ok"}, result.sandbox.stderr
    assert got["scale"][""].dtype == np.float32
    np.testing.assert_array_equal(got["scale"][""], x * 3)
    assert list(got["fwd"]) == ["0"]  # the opaque cache was not selected
    np.testing.assert_array_equal(got["fb"]["out"], x + 0.5)
    np.testing.assert_array_equal(got["fb"]["backward.0"], x * x)
    np.testing.assert_allclose(got["fb"]["backward.1"], x.sum(), rtol=1e-6)
    for key in ("dense", "cnn"):
        prefix = "" if key == "dense" else "0."
        np.testing.assert_allclose(got[key]["out"], x @ w + b, rtol=1e-6)
        np.testing.assert_allclose(got[key]["dx"], dout @ w.T, rtol=1e-6)
        np.testing.assert_allclose(got[key][f"grads.{prefix}w"], x.T @ dout, rtol=1e-6)
        np.testing.assert_allclose(got[key][f"grads.{prefix}b"], dout.sum(axis=0), rtol=1e-6)
    assert result.calls["relu"].message == "ReLU.backward"
    np.testing.assert_array_equal(got["relu"]["out"], x * (x > 0))  # kept although backward failed
    v1 = -0.1 * inp["g1"]
    np.testing.assert_allclose(got["sgd"]["params.w"], inp["p"] + v1 + (0.5 * v1 - 0.1 * inp["g2"]))


def test_served_reference_replaces_every_reference_to_the_student_function(tmp_path):
    """A served function runs outside the sandbox: direct calls, internal calls and imports
    under another name all reach it, and its answers are the reference's."""
    submission = make_submission(
        tmp_path,
        conv="""
            def im2col(x, kh, kw, stride=1, padding=0):
                raise NotImplementedError

            def forward(x):
                return im2col(x, 2, 2) + 1
        """,
        layers="""
            from .conv import im2col as renamed

            def uses(x):
                return renamed(x, 2, 2, stride=2)
        """)
    calls = [call("direct", "conv.im2col", X, 2, 2), call("internal", "conv.forward", X),
             call("imported", "layers.uses", X)]
    x = np.arange(32.0).reshape(1, 2, 4, 4)
    plain = run_job(submission, calls, {"x": x}, limits=LIMITS)
    assert {c.status for c in plain.calls.values()} == {"not_implemented"}
    served = run_job(submission, calls, {"x": x}, limits=LIMITS, serve=["conv.im2col"])
    out = served.flat_outputs()
    np.testing.assert_array_equal(out["direct"], REF.conv.im2col(x, 2, 2))
    np.testing.assert_array_equal(out["internal"], REF.conv.im2col(x, 2, 2) + 1)
    np.testing.assert_array_equal(out["imported"], REF.conv.im2col(x, 2, 2, stride=2))


def test_served_caches_and_layers_stay_outside_the_sandbox(tmp_path):
    """A served forward's cache is an opaque handle that its backward accepts; a served layer
    keeps its params here and runs there; a bad argument is the reference's builtin error."""
    submission = make_submission(tmp_path, layers="""
        import numpy as np
        from .conv import conv2d_forward, conv2d_backward

        def dense_forward(x, w, b):
            raise NotImplementedError

        class Conv2D:
            pass

        def roundtrip(x, w, b, dout):
            out, cache = conv2d_forward(x, w, b, stride=1, padding=1)
            assert "handle" in repr(cache) and not isinstance(cache, tuple)
            return (out, *conv2d_backward(dout, cache))

        def layer(x, w, dout):
            conv = Conv2D(3, 2, 3, padding=1)
            conv.params["w"] = w
            out = conv.forward(x)
            return out, conv.backward(dout), conv.grads["w"]

        def bad(x):
            return dense_forward(x, x, x)
    """, conv="""
        def conv2d_forward(x, w, b, stride=1, padding=0):
            raise NotImplementedError

        def conv2d_backward(dout, cache):
            raise NotImplementedError
    """)
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 3, 3)), np.ones(2)
    dout = rng.standard_normal((2, 2, 5, 4))
    inputs = {"x": x, "w": w, "b": b, "dout": dout}
    a = {name: {"array": name} for name in inputs}
    calls = [call("roundtrip", "layers.roundtrip", a["x"], a["w"], a["b"], a["dout"]),
             call("layer", "layers.layer", a["x"], a["w"], a["dout"]),
             call("bad", "layers.bad", a["x"])]
    result = run_job(submission, calls, inputs, limits=LIMITS,
                     serve=["conv.conv2d_forward", "conv.conv2d_backward", "layers.dense_forward",
                            "layers.Conv2D"])
    got = {cid: c.outputs for cid, c in result.calls.items()}
    out, cache = REF.conv.conv2d_forward(x, w, b, stride=1, padding=1)
    dx, dw, db = REF.conv.conv2d_backward(dout, cache)
    for key, expected in zip("0123", (out, dx, dw, db)):
        np.testing.assert_allclose(got["roundtrip"][key], expected, rtol=1e-12)
    np.testing.assert_allclose(got["layer"]["0"], REF.conv.conv2d_forward(x, w, np.zeros(2),
                                                                        padding=1)[0], rtol=1e-6)
    np.testing.assert_allclose(got["layer"]["2"], dw, rtol=1e-6)
    bad = result.calls["bad"]
    assert (bad.status, bad.error_type) == ("error", "ValueError")
    assert "raised by the reference" in bad.message


def solution_lines() -> list[str]:
    """Distinctive lines of the reference's solution regions (what a leak would contain)."""
    lines, inside = [], False
    for path in sorted((KIT_ROOT / "solutions" / "scratchcnn").glob("*.py")):
        for line in path.read_text().splitlines():
            inside = (inside or "### BEGIN SOLUTION" in line) and "### END SOLUTION" not in line
            if inside and len(line.strip()) > 40:
                lines.append(line.strip())
    return lines


@requires_sandbox
def test_no_reference_code_is_anywhere_the_student_can_look(tmp_path):
    """With every earlier-phase target served (what Phases 8 and 13 use), no file the child can
    read holds a line of the reference's solutions, but for the control: one line that the
    submission quotes in a comment of its own."""
    markers = solution_lines()[::4]
    submission = make_submission(tmp_path, conv=f"""
        # {markers[0]}
        import os
        import numpy as np
        from .layers import Conv2D

        def search(markers):
            Conv2D(1, 1, 1).forward(np.ones((1, 1, 2, 2)))  # the served objects are in use
            hits = 0
            for root, dirs, files in os.walk("/"):
                # /usr is the host's system tree (read-only; the kit is never under it)
                dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys",
                                                                            "/dev", "/usr")]
                for name in files:
                    path = os.path.join(root, name)
                    hits += "cnnkit" in path or "solutions" in path
                    try:
                        with open(path, "rb") as handle:
                            text = handle.read(1024**2).decode("utf-8", "replace")
                    except OSError:
                        continue
                    if "def " in text:
                        hits += sum(marker in text for marker in markers)
            return np.array([hits, len(markers)])
    """, layers="class Conv2D:\n    pass\n")
    served = [f"{task.split('::')[0].removesuffix('.py')}.{task.split('::')[1]}"
              for p in PHASES if p.number < 8 for task in p.tasks] + ["layers.Conv2D"]
    result = run_job(submission, [call("a", "conv.search", markers)], INPUTS,
                     limits=dataclasses.replace(LIMITS, cpu_seconds=60, wall_seconds=90),
                     serve=served)
    assert result.calls["a"].status == "ok", result.calls["a"].message
    assert result.calls["a"].outputs[""].tolist() == [1, len(markers)] and len(markers) > 20


def test_staging_copies_only_regular_files_of_the_package(tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_text("import numpy as np\ndef f(x):\n    return np.full(3, 42.0)\n")
    submission = make_submission(tmp_path, conv="def f(x):\n    return x\n")
    (submission / "scratchcnn" / "leak.py").symlink_to(secret)
    with pytest.warns(RuntimeWarning, match="NO SANDBOX"):  # where a symlink would be followed
        result = run_job(submission, [call("a", "leak.f", X), call("b", "conv.f", X)], INPUTS,
                         limits=LIMITS, isolation=IsolationLevel.RLIMITS_ONLY)
    leaked = result.calls["a"]
    assert (leaked.status, leaked.error_type) == ("error", "ModuleNotFoundError")
    assert result.calls["b"].status == "ok"


def test_parent_caps_the_total_size_of_results(tmp_path):
    submission = make_submission(
        tmp_path, conv="import numpy as np\ndef f(x):\n    return np.zeros(1000)\n")
    limits = dataclasses.replace(LIMITS, max_result_bytes=12_000)  # one 8 kB array, not two
    result = run_job(submission, [call("a", "conv.f", X), call("b", "conv.f", X)], INPUTS,
                     limits=limits)
    assert result.calls["a"].outputs[""].shape == (1000,)
    assert result.calls["b"].outputs == {}
    assert "total result size" in result.calls["b"].output_errors[""]


def test_malformed_jobs_are_refused_in_the_parent(tmp_path):
    submission = make_submission(tmp_path)
    with pytest.raises(ValueError, match="unique"):
        run_job(submission, [call("a", "conv.f"), call("a", "conv.g")], {})
    with pytest.raises(ValueError, match="unknown input arrays"):
        run_job(submission, [call("a", "conv.f", {"array": "nope"})], {})
    with pytest.raises(TypeError, match="numeric ndarray"):
        run_job(submission, [call("a", "conv.f")], {"x": np.array([{}], dtype=object)})
    with pytest.raises(ValueError, match="plain JSON"):
        run_job(submission, [call("a", "conv.f", float("nan"))], {})


# ----------------------------------------------------------------------------------------------
# Exits, crashes and limits: the runner returns, earlier answers survive.


def test_sys_exit_at_import_is_an_error_of_each_call(tmp_path):
    submission = make_submission(tmp_path, init="import sys\nsys.exit(3)\n",
                                 conv="def f(x):\n    return x\n")
    result = run_job(submission, [call("a", "conv.f", X), call("b", "conv.f", X)], INPUTS,
                     limits=LIMITS)
    for res in result.calls.values():
        assert (res.status, res.error_type, res.message) == ("error", "SystemExit", "3")


def test_os_exit_at_import_leaves_every_call_not_run(tmp_path):
    submission = make_submission(tmp_path, conv="import os\nos._exit(7)\n")
    result = run_job(submission, [call("a", "conv.f", X)], INPUTS, limits=LIMITS)
    assert result.sandbox.returncode == 7
    assert result.calls["a"].status == "not_run"
    assert "exited with status 7" in result.calls["a"].message


def test_exits_during_calls_keep_earlier_results(tmp_path):
    submission = make_submission(tmp_path, conv="""
        import os, sys

        def ok(x):
            return x + 1

        def polite_exit(x):
            sys.exit("bye")

        def hard_exit(x):
            os._exit(0)
    """)
    calls = [call("a", "conv.ok", X), call("b", "conv.polite_exit", X), call("c", "conv.ok", X),
             call("d", "conv.hard_exit", X), call("e", "conv.ok", X)]
    result = run_job(submission, calls, INPUTS, limits=LIMITS)
    statuses = {cid: c.status for cid, c in result.calls.items()}
    assert statuses == {"a": "ok", "b": "error", "c": "ok", "d": "crashed", "e": "not_run"}
    assert result.calls["b"].error_type == "SystemExit"
    np.testing.assert_array_equal(result.calls["c"].outputs[""], INPUTS["x"] + 1)


def test_segfault_is_reported_as_a_crash_of_that_call(tmp_path):
    submission = make_submission(tmp_path, conv="""
        import ctypes

        def ok(x):
            return x

        def crash(x):
            return ctypes.string_at(0)
    """)
    result = run_job(submission, [call("a", "conv.ok", X), call("b", "conv.crash", X)], INPUTS,
                     limits=LIMITS)
    assert result.sandbox.signal == signal.SIGSEGV
    assert result.calls["a"].status == "ok"
    assert result.calls["b"].status == "crashed"
    assert "SIGSEGV" in result.calls["b"].message


def test_sleeping_forever_hits_the_wall_clock_limit(tmp_path):
    submission = make_submission(tmp_path, conv="import time\ndef f(x):\n    time.sleep(600)\n")
    result = run_job(submission, [call("a", "conv.f", X)], INPUTS, limits=LIMITS)
    assert result.sandbox.timed_out
    assert result.sandbox.wall_seconds < HANG_GUARD_SECONDS
    assert result.calls["a"].status == "crashed"
    assert "wall-clock" in result.calls["a"].message


def test_spinning_forever_hits_the_cpu_limit(tmp_path):
    submission = make_submission(tmp_path, conv="def f(x):\n    while True:\n        pass\n")
    result = run_job(submission, [call("a", "conv.f", X)], INPUTS,
                     limits=dataclasses.replace(LIMITS, cpu_seconds=1))
    assert result.sandbox.signal == signal.SIGXCPU
    assert result.calls["a"].status == "crashed"


def test_memory_bomb_is_a_memory_error_and_later_calls_run(tmp_path):
    submission = make_submission(tmp_path, conv="""
        import numpy as np

        def bomb(x):
            return np.ones(2**31)          # 16 GiB, far beyond the 512 MiB limit

        def ok(x):
            return x
    """)
    result = run_job(submission, [call("a", "conv.bomb", X), call("b", "conv.ok", X)], INPUTS,
                     limits=LIMITS)
    assert (result.calls["a"].status, result.calls["a"].error_type) == ("error", "MemoryError")
    assert result.sandbox.memory_exceeded
    assert result.calls["b"].status == "ok"


def test_output_flood_is_truncated_with_a_note(tmp_path):
    submission = make_submission(tmp_path, conv="""
        import sys

        def f(x):
            for _ in range(200):
                sys.stdout.write("x" * 100_000)
            return x
    """)
    result = run_job(submission, [call("a", "conv.f", X)], INPUTS, limits=LIMITS)
    assert result.calls["a"].status == "ok"
    assert result.sandbox.stdout_truncated
    kept = "x" * LIMITS.max_output_bytes
    assert result.sandbox.stdout.startswith(kept + "\n[sandbox: output truncated")
    assert str(200 * 100_000 - LIMITS.max_output_bytes) in result.sandbox.stdout


@requires_sandbox
def test_fork_bomb_stops_at_the_process_limit_and_nothing_survives(tmp_path):
    submission = make_submission(tmp_path, conv="""
        import ctypes, os, time
        import numpy as np

        def bomb(name):
            forked = 0
            for _ in range(1000):
                try:
                    if os.fork() == 0:
                        ctypes.CDLL(None).prctl(15, name.encode())  # PR_SET_NAME: findable
                        time.sleep(600)
                        os._exit(0)
                except OSError:
                    break
                forked += 1
            return np.array(forked)
    """)
    name = f"bomb{os.getpid()}"[:15]
    result = run_job(submission, [call("a", "conv.bomb", name)], INPUTS, limits=LIMITS)
    assert result.calls["a"].status == "ok", result.sandbox.stderr
    assert 0 < int(result.calls["a"].outputs[""]) < LIMITS.max_processes
    assert not result.sandbox.timed_out
    assert processes_named(name) == []  # the sleeping children died with the sandbox


# ----------------------------------------------------------------------------------------------
# Isolation: files, network.

PROBE_FILES = """
    import numpy as np

    def read(paths):
        flags = []
        for path in paths + [__file__]:      # the submission's own file is the control
            try:
                with open(path, "rb") as handle:
                    handle.read(1)
                flags.append(1)
            except OSError:
                flags.append(0)
        return np.array(flags)

    def write(folders):
        flags = []
        for folder in folders + ["."]:       # the scratch folder (cwd) is the control
            try:
                with open(f"{folder}/pwned", "w") as handle:
                    handle.write("x")
                flags.append(1)
            except OSError:
                flags.append(0)
        return np.array(flags)
"""


@requires_sandbox
def test_child_cannot_read_the_kit_or_hidden_files(tmp_path):
    hidden = tmp_path / "hidden" / "expected.npy"
    hidden.parent.mkdir()
    np.save(hidden, np.zeros(3))
    repo = Path(__file__).resolve().parents[2]
    secrets = [str(hidden), str(repo / "pyproject.toml"), str(Path(cnnkit.__file__)),
               str(Path(pytest.__file__)), "/etc/passwd"]
    assert all(os.access(path, os.R_OK) for path in secrets)  # the parent can read them all
    submission = make_submission(tmp_path, conv=PROBE_FILES)
    result = run_job(submission, [call("a", "conv.read", secrets)], INPUTS, limits=LIMITS)
    assert result.calls["a"].outputs[""].tolist() == [0] * len(secrets) + [1]


@requires_sandbox
def test_child_cannot_write_outside_scratch(tmp_path):
    folders = ["/", "/tmp", "/dev/shm", "/sandbox", "/sandbox/submission/scratchcnn",
               os.path.dirname(np.__file__), str(tmp_path)]
    submission = make_submission(tmp_path, conv=PROBE_FILES)
    result = run_job(submission, [call("a", "conv.write", folders)], INPUTS, limits=LIMITS)
    assert result.calls["a"].outputs[""].tolist() == [0] * len(folders) + [1]
    assert not (tmp_path / "pwned").exists()


@requires_sandbox
@requires_sandbox
def test_scratch_is_a_bounded_tmpfs_that_leaves_nothing_on_the_host(tmp_path):
    submission = make_submission(tmp_path, conv="""
        import numpy as np

        def fill(x):
            try:
                with open("big", "wb") as handle:
                    for _ in range(64):
                        handle.write(b"x" * 1024**2)
            except OSError as exc:
                return np.array([exc.errno])
            return np.array([0])
    """)
    limits = dataclasses.replace(LIMITS, max_scratch_bytes=8 * 1024**2)
    result = run_job(submission, [call("a", "conv.fill", X)], INPUTS, limits=limits,
                     work_dir=tmp_path)
    if STATUS.level is IsolationLevel.BWRAP_NOBODY:
        assert result.calls["a"].outputs[""].tolist() == [28]  # ENOSPC
    assert not any(tmp_path.glob("cnnkit-job-*"))  # nothing left behind


def test_child_cannot_reach_a_listener_on_loopback(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        submission = make_submission(tmp_path, conv="""
            import socket
            import numpy as np

            def connect(port):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                    return np.array(1)
                except OSError:
                    return np.array(0)
        """)
        result = run_job(submission, [call("a", "conv.connect", port)], INPUTS, limits=LIMITS)
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()  # no connection ever reached the listener
    assert int(result.calls["a"].outputs[""]) == 0


# ----------------------------------------------------------------------------------------------
# Tricks on the answers themselves.


def test_ndarray_subclass_faking_equality_arrives_as_a_plain_ndarray(tmp_path):
    submission = make_submission(tmp_path, conv="""
        import numpy as np

        class Liar(np.ndarray):
            def __eq__(self, other):
                return np.ones(self.shape, dtype=bool)

            def __array_finalize__(self, obj):
                pass

        def f(x):
            return np.full(x.shape, 5.0).view(Liar)
    """)
    result = run_job(submission, [call("a", "conv.f", X)], INPUTS, limits=LIMITS)
    out = result.calls["a"].outputs[""]
    assert type(out) is np.ndarray
    assert not (out == INPUTS["x"]).all()
    np.testing.assert_array_equal(out, np.full(INPUTS["x"].shape, 5.0))


def test_non_array_returns_are_type_errors_per_output(tmp_path):
    submission = make_submission(tmp_path, conv="""
        import numpy as np

        def f(x):
            return x, "text", np.array([{}], dtype=object), 2.5, [3, 4, 8], ["a"], [[1], [2, 3]]
    """)
    result = run_job(submission, [call("a", "conv.f", X)], INPUTS, limits=LIMITS)
    res = result.calls["a"]
    assert res.status == "ok"
    assert sorted(res.outputs) == ["0", "3", "4"] and res.outputs["3"].ndim == 0
    assert res.outputs["4"].tolist() == [3, 4, 8]  # a list of numbers is one array
    assert "returned str" in res.output_errors["1"]
    assert "dtype object" in res.output_errors["2"]
    assert "dtype <U1" in res.output_errors["5"]
    assert "inhomogeneous" in res.output_errors["6"]


def test_monkeypatching_numpy_and_the_stdlib_in_the_child_changes_nothing(tmp_path):
    submission = make_submission(tmp_path, conv="""
        import builtins, json, os
        import numpy as np

        np.save = np.savez = np.lib.format.write_array = None
        np.allclose = lambda *args, **kwargs: True
        np.testing.assert_allclose = lambda *args, **kwargs: None
        json.dumps = lambda *args, **kwargs: '{"status": "ok", "outputs": []}'
        builtins.open = os.replace = None

        def f(x):
            return x + 1
    """)
    result = run_job(submission, [call("a", "conv.f", X)], INPUTS, limits=LIMITS)
    np.testing.assert_array_equal(result.calls["a"].outputs[""], INPUTS["x"] + 1)
    assert not np.allclose(np.zeros(1), np.ones(1))  # the parent's numpy is its own


def test_forged_result_frames_are_rejected_or_count_only_as_answers(tmp_path):
    """A child that writes its own frames on the results socket gets its own answers at most:
    unusable arrays, bad names, oversized status records and foreign exception names are
    refused, and a frame for a call that does not exist ends the stream."""
    submission = make_submission(tmp_path, conv="""
        import io, json, os, socket, stat
        import numpy as np

        def frame(kind, index, payload=b""):
            return kind + index.to_bytes(4, "big") + len(payload).to_bytes(4, "big") + payload

        def output(index, name, data):
            return frame(b"O", index, len(name).to_bytes(2, "big") + name.encode() + data)

        def npy(array, pickle=False):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=pickle)
            return buffer.getvalue()

        def status(index, **fields):
            return frame(b"E", index, json.dumps({"status": "ok", **fields}).encode())

        def forge(x):
            lie = (b"\\x93NUMPY\\x01\\x00v\\x00{'descr': '<f8', 'fortran_order': False, "
                   b"'shape': (100000000,), }" + b" " * 58 + b"\\n" + b"\\0" * 16)
            frames = [
                status(0), frame(b"S", 1),
                output(1, "", npy(np.array([{}], dtype=object), pickle=True)),
                output(1, "lie", lie),
                status(1), frame(b"S", 2), frame(b"E", 2, b"[" + b"0," * 300_000 + b"0]"),
                frame(b"S", 3), output(3, "answer", npy(np.full(3, 7.0))),
                status(3, error_type="StolenReferenceChunk" + "x" * 5000, message="m" * 5000),
                frame(b"S", 4), output(4, "../../escape", npy(np.zeros(1))),
            ]
            for fd in range(3, 64):
                try:
                    if stat.S_ISSOCK(os.fstat(fd).st_mode):
                        sock = socket.socket(fileno=fd)
                        for f in frames:
                            sock.sendall(f)
                except OSError:
                    pass
            os._exit(0)                      # so the harness never sends the real status
    """)
    calls = [call("forger", "conv.forge", X)]
    calls += [call(f"c{i}", "conv.forge", X) for i in range(1, 6)]
    result = run_job(submission, calls, INPUTS, limits=LIMITS)
    res = result.calls
    assert res["forger"].status == "ok" and res["forger"].outputs == {}
    assert res["c1"].status == "ok" and res["c1"].outputs == {}
    assert "not a valid .npy" in res["c1"].output_errors[""]
    assert "not a valid .npy" in res["c1"].output_errors["lie"]
    assert res["c2"].status == "invalid" and "not JSON" in res["c2"].message
    np.testing.assert_array_equal(res["c3"].outputs["answer"], np.full(3, 7.0))
    assert res["c3"].error_type == "an exception class of your own"
    assert len(res["c3"].message) <= 300
    assert res["c4"].status == "invalid" and "invalid or repeated name" in res["c4"].message
    assert res["c5"].status == "not_run"


def test_layer_recipe_options_for_stateful_layers_and_blocks(tmp_path):
    """"training", "buffers", a list of forward inputs (out.0, out.1) and buffers as outputs;
    a block's "inner.k" params set on its inner layer, in the layer and the model recipe."""
    submission = make_submission(tmp_path, blocks="""
        import numpy as np

        class Counter:  # adds the number of training steps so far to x
            def __init__(self):
                self.params, self.grads, self.training = {}, {}, True
                self.buffers = {"steps": np.zeros(1)}

            def forward(self, x):
                if self.training:
                    self.buffers["steps"] += 1
                return x + self.buffers["steps"]

        class Scale:
            def __init__(self):
                self.params, self.grads = {"w": np.ones(1)}, {}

            def forward(self, x):
                return x * self.params["w"]

        class Block:  # its params are its inner layer's, read through a property
            def __init__(self):
                self.layers = {"inner": Scale()}

            @property
            def params(self):
                return {f"inner.{k}": v for k, v in self.layers["inner"].params.items()}

            def forward(self, x):
                return self.layers["inner"].forward(x)
    """, model=HONEST["model"])
    inputs = {**INPUTS, "ten": np.array([10.0]), "three": np.array([3.0])}
    calls = [
        {"id": "steps", "recipe": "layer", "class": "blocks.Counter",
         "buffers": {"steps": {"array": "ten"}}, "forward": [X, X]},
        {"id": "eval", "recipe": "layer", "class": "blocks.Counter", "training": False,
         "forward": X},
        {"id": "block", "recipe": "layer", "class": "blocks.Block",
         "params": {"inner.w": {"array": "three"}}, "forward": X},
        {"id": "model", "recipe": "model", "class": "model.CNN",
         "layers": [{"class": "blocks.Block"}], "params": {"0.inner.w": {"array": "three"}},
         "forward": X},
    ]
    result = run_job(submission, calls, inputs, limits=LIMITS)
    got = {cid: c.outputs for cid, c in result.calls.items()}
    x = INPUTS["x"]
    assert {cid: c.status for cid, c in result.calls.items()} == dict.fromkeys(got, "ok")
    np.testing.assert_array_equal(got["steps"]["out.0"], x + 11)
    np.testing.assert_array_equal(got["steps"]["out.1"], x + 12)
    np.testing.assert_array_equal(got["steps"]["buffers.steps"], [12.0])
    np.testing.assert_array_equal(got["eval"]["out"], x)
    np.testing.assert_array_equal(got["eval"]["buffers.steps"], [0.0])
    for cid in ("block", "model"):
        np.testing.assert_array_equal(got[cid]["out"], x * 3)


def test_a_killed_grader_leaves_no_process_of_its_own_running(tmp_path):
    """die_with_parent (the grading's and the reference server's preexec_fn): SIGKILL the
    process that started a child, and the child is gone too."""
    script = tmp_path / "starter.py"
    script.write_text("import subprocess\n"
                      "from cnnkit.autograder.sandbox import die_with_parent\n"
                      "child = subprocess.Popen(['sleep', '600'], preexec_fn=die_with_parent)\n"
                      "print(child.pid, flush=True)\n"
                      "child.wait()\n")
    starter = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = int(starter.stdout.readline())
    os.kill(starter.pid, signal.SIGKILL)
    starter.wait()

    def running(pid):
        try:  # a zombie ("Z") waits for init to reap it: no longer running
            return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 10
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(child)
