"""`cnnkit bench` on tiny sizes: every op timed, naive loops and the epoch too (no timing limits)."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from scratchcnn import conv, pool

from cnnkit import bench
from cnnkit.cli import main
from cnnkit.models import load_impl
from cnnkit.parallel import can_fork
from cnnkit.paths import KIT_ROOT

# One image's training products in the guide's CNN, by hand: 2 FLOPs per multiply-add; forward,
# dL/dw and dL/dx, except dL/dx of the first layer (its input is the data).
GUIDE_TRAINING_FLOPS = (2 * (32 * 26 * 26) * (1 * 3 * 3) * 2      # conv1: 26x26 outputs, 32 filters
                        + 2 * (64 * 11 * 11) * (32 * 3 * 3) * 3   # conv2
                        + 2 * 1600 * 128 * 3 + 2 * 128 * 10 * 3)  # the dense layers

TINY = ["bench", "--batch", "4", "--repeat", "1", "--naive-batch", "1", "--epoch-images", "64",
        "--epoch-runs", "2", "--threads", "2"]


def test_bench_reports_every_op_and_an_epoch(tmp_path, capsys):
    result = tmp_path / "bench.json"
    assert main([*TINY, "--no-torch", "--json", str(result)]) == 0
    report = json.loads(result.read_text())
    assert [r["op"] for r in report["ops"]] == [
        f"{op} {step}" for op in ("conv1", "pool1", "conv2", "pool2")
        for step in ("forward", "backward")]
    for r in report["ops"]:
        assert r["ms"] > 0 and r["naive_ms"] > 0 and r["speedup"] > 0, r
        assert r["torch_ms"] is None and r["split_vs_torch"] is None
        # the batch split over the two processes, as training runs (worker processes: Linux)
        assert (r["split_ms"] > 0) if can_fork() else (r["split_ms"] is None)
    epoch = report["epoch"]
    assert epoch["images"] == 64 and len(epoch["runs"]) == 2
    assert epoch["seconds"] == sum(epoch["runs"]) / 2 and epoch["torch_runs"] == []
    assert epoch["flops"] == 64 * GUIDE_TRAINING_FLOPS and epoch["matmul_gflops_per_core"] > 0
    assert epoch["matmul_bound_seconds"] == pytest.approx(
        epoch["flops"] / (2 * epoch["matmul_gflops_per_core"] * 1e9))
    assert report["peak_memory_mib"] > 0
    out = capsys.readouterr().out
    assert "contract ops" in out and ("split:" in out) == can_fork()


def test_bench_compares_with_pytorch_when_installed(tmp_path):
    pytest.importorskip("torch")
    result = tmp_path / "bench.json"
    assert main([*TINY, "--json", str(result)]) == 0
    report = json.loads(result.read_text())
    assert all(r["torch_ms"] > 0 and r["vs_torch"] > 0 for r in report["ops"])
    if can_fork():
        assert all(r["split_vs_torch"] == r["split_ms"] / r["torch_ms"] for r in report["ops"])
    assert report["epoch"]["torch_seconds"] > 0 and len(report["epoch"]["torch_runs"]) == 2


def test_bench_on_the_unfinished_release_says_what_to_write(capsys):
    assert main([*TINY, "--impl", "assignments", "--no-torch"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"cnnkit bench: your scratchcnn is not finished yet: Phase \d+ \(", err)
    assert "Traceback" not in err
    load_impl("solutions")  # the reference again, for the tests that follow


@pytest.mark.parametrize("size", [2, 3])
def test_naive_pool_loops_match_the_reference(size):
    x = np.random.default_rng(0).integers(0, 3, (2, 3, 6, 6)).astype(np.float64)  # with ties
    out, cache = pool.max_pool_forward(x, size, size)
    np.testing.assert_array_equal(bench.pool_forward_loops(x, size), out)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    np.testing.assert_array_equal(bench.pool_backward_loops(x, dout, size),
                                  pool.max_pool_backward(dout, cache))


def test_naive_conv_backward_loops_match_the_reference():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2))
    out, cache = conv.conv2d_forward(x, w, np.zeros(4))
    dout = rng.standard_normal(out.shape)
    for got, want in zip(bench.conv_backward_loops(x, w, dout), conv.conv2d_backward(dout, cache)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("option", ["--repeat", "--epoch-runs", "--batch"])
def test_counts_below_one_are_refused_by_name(option, capsys):
    assert main(["bench", option, "0", "--no-torch", "--no-epoch"]) == 2
    assert f"cnnkit bench: {option} must be >= 1 (got 0)" in capsys.readouterr().err


def test_layer_times_script_reports_every_layer_of_the_trainer_order():
    """benchmarks/layer_times.py, tiny: one row per layer in the trainer's order (ReLU after
    each pool), forward and backward times, and the totals."""
    out = subprocess.run(
        [sys.executable, str(KIT_ROOT / "benchmarks" / "layer_times.py"), "--shard", "4",
         "--steps", "3", "--warmup", "1"], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [row[0].split("(")[0] for row in rows] == [
        "Conv2D", "MaxPool2D", "ReLU", "Conv2D", "MaxPool2D", "ReLU", "Flatten", "Dense", "ReLU",
        "Dense", "total"]
    assert all(float(value) >= 0 for row in rows[:-1] for value in row[-2:])
    assert float(rows[-1][-1]) > 0  # the whole step
