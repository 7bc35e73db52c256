"""`cnnkit train --dataset fashion` and `--model cnn-bn`: quick real runs on a few hundred
Fashion-MNIST images, batch normalisation's eval mode and buffers through saving, loading and
the data-parallel path, and the option errors.

Fashion-MNIST comes from the Debian package dataset-fashion-mnist (tests/conftest.py); without it
the tests that need it are skipped.
"""

import json

import numpy as np
import pytest
from rich.console import Console

from cnnkit.cli import main
from cnnkit.data import get_dataset, load_mnist
from cnnkit.models import build_model, eval_mode, load_impl, load_model, save_model
from cnnkit.train import EXAMPLES, SHIFTS, shift_tables

FASHION = get_dataset("fashion")


@pytest.fixture(scope="module")
def impl():
    return load_impl("solutions")


def batch(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32)


def trained_bn(impl, seed: int = 0):
    """A cnn-bn whose running statistics have moved away from their initial zeros and ones."""
    model = build_model(impl, "cnn-bn", seed)
    for i in range(3):
        model.forward(batch(8, seed + i))
    return model


# --- quick real runs ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["cnn", "cnn-bn"])
def test_quick_fashion_run_and_evaluate(kind, tmp_path, capsys, fashion_dir):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "fashion", "--model", kind, "--limit", "200",
                 "--epochs", "1", "--out", str(out), "--quiet", "--no-baseline"]) == 0
    shown = capsys.readouterr().out
    assert "Fashion-MNIST" in shown
    assert "time to 99%" not in shown and "target" not in shown  # MNIST's milestone only
    labels = load_mnist(fashion_dir, dataset="fashion").y_test[:6]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "fashion" and metrics["data"] == str(fashion_dir)
    assert metrics["shift"]["classes"] == list(FASHION.class_names)
    assert metrics["shift"]["labels"] == labels.tolist()
    assert set(metrics["results"]) == {kind}
    for name in ("model.npz", "metrics.json", "filters.png", "curves.png", "shift.png"):
        assert (out / name).stat().st_size > 0, name
    result = tmp_path / "evaluate.json"  # no --dataset: the model's metadata says fashion
    assert main(["evaluate", str(out / "model.npz"), "--limit", "200", "--json",
                 str(result)]) == 0
    evaluated = json.loads(result.read_text())
    assert evaluated["dataset"] == "fashion"
    assert evaluated["test_accuracy"] == metrics["results"][kind]["test_accuracy"]
    assert "on 200 Fashion-MNIST test images" in capsys.readouterr().out


def test_example_predictions_show_class_names():
    # Two models' predictions for the first EXAMPLES images at each shift: (label, confidence).
    labels = [9, 2, 1, 1, 6, 1]
    predicted = [[[7, 0.5]] * EXAMPLES] * len(SHIFTS)
    study = {"accuracy": {"cnn": [0.5] * len(SHIFTS)}, "examples": {"cnn": predicted},
             "labels": labels, "classes": list(FASHION.class_names)}
    console = Console(width=250, record=True)
    for table in shift_tables(study, 100):
        console.print(table)
    rows = [line for line in console.export_text().splitlines() if line.startswith("│ ")]
    examples = [row for row in rows if "#" in row]
    assert len(examples) == EXAMPLES
    for row, label in zip(examples, labels, strict=True):
        cells = [cell.strip() for cell in row.strip("│").split("│")]
        assert cells[1] == FASHION.class_names[label]
        assert cells[3:] == [f"{FASHION.class_names[7]} (50%) ✗"] * len(SHIFTS)


# --- batch normalisation: eval mode, buffers -----------------------------------------------------


def test_cnn_bn_save_and_load_round_trip_with_buffers(impl, tmp_path):
    model = trained_bn(impl)
    path = tmp_path / "model.npz"
    save_model(path, model, {"kind": "cnn-bn"})
    loaded, architecture = load_model(path, impl)
    assert [spec for spec in architecture["layers"] if spec["type"] == "BatchNorm2D"] == [
        {"type": "BatchNorm2D", "num_channels": c, "momentum": 0.1, "eps": 1e-5} for c in (32, 64)]
    assert set(loaded.buffers) == set(model.buffers) == {
        "1.running_mean", "1.running_var", "5.running_mean", "5.running_var"}
    for name, value in model.buffers.items():
        assert not np.array_equal(value, build_model(impl, "cnn-bn", 0).buffers[name]), name
        np.testing.assert_array_equal(loaded.buffers[name], value, err_msg=name)
    for name, value in model.params.items():
        np.testing.assert_array_equal(loaded.params[name], value, err_msg=name)
    x = batch(5, 9)
    with eval_mode(model), eval_mode(loaded):
        np.testing.assert_array_equal(loaded.forward(x), model.forward(x))


def test_a_saved_model_with_missing_buffers_is_refused(impl, tmp_path):
    path = tmp_path / "model.npz"
    save_model(path, trained_bn(impl), {})
    with np.load(path) as saved:
        arrays = {k: saved[k] for k in saved.files if k != "buffer:5.running_var"}
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"buffers \[.*\] don't match the architecture's"):
        load_model(path, impl)


def test_eval_mode_uses_the_running_statistics_and_restores_training(impl):
    model = trained_bn(impl)
    before = {k: v.copy() for k, v in model.buffers.items()}
    x = batch(6, 7)
    with eval_mode(model):
        assert not any(layer.training for layer in model.layers)
        alone = model.forward(x[:1])
        together = model.forward(x)
    assert all(layer.training for layer in model.layers)
    for name, value in model.buffers.items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    # Running statistics: an image's logits do not depend on the rest of the batch.
    np.testing.assert_allclose(alone[0], together[0], rtol=1e-5, atol=1e-5)
    assert not np.allclose(model.forward(x)[0], together[0], atol=1e-3)  # batch statistics


def test_data_parallel_batch_norm_matches_one_thread(impl, wrapper):
    x = batch(12, 3)
    serial, parallel = build_model(impl, "cnn-bn", 0), build_model(impl, "cnn-bn", 0)
    serial.forward(x)
    with wrapper(parallel, 2) as wrapped:
        wrapped.forward(x)
        # The first BatchNorm sees the same numbers in both: its running mean follows the whole
        # batch's mean. Every replica holds the merged statistics, in its own arrays.
        np.testing.assert_allclose(parallel.buffers["1.running_mean"],
                                   serial.buffers["1.running_mean"], rtol=1e-5, atol=1e-7)
        for name, value in parallel.layers[1].buffers.items():
            assert wrapped.buffers_of(1, 1)[name] is not value
            np.testing.assert_array_equal(wrapped.buffers_of(1, 1)[name], value)
        with eval_mode(wrapped):
            assert not any(layer.training for layer in parallel.layers)
            before = {k: v.copy() for k, v in parallel.buffers.items()}
            for name, value in parallel.buffers.items():
                serial.buffers[name][...] = value
            with eval_mode(serial):  # both shards, the worker's too, use the merged statistics
                np.testing.assert_allclose(wrapped.forward(x), serial.forward(x), rtol=1e-5,
                                           atol=1e-5)
            for name, value in parallel.buffers.items():
                np.testing.assert_array_equal(value, before[name], err_msg=name)
        assert all(layer.training for layer in parallel.layers)
        # Back in training mode, the worker's shard is normalised with batch statistics again.
        train_logits = wrapped.forward(x)
        np.testing.assert_allclose(train_logits[6:], serial.forward(x[6:]), rtol=1e-4,
                                   atol=1e-4)


# --- option errors ------------------------------------------------------------------------------


def test_unknown_dataset_is_refused(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--dataset", "cifar"])
    assert info.value.code == 2
    assert "argument --dataset: invalid choice: 'cifar'" in capsys.readouterr().err


def test_cnn_bn_needs_the_bonus_model(tmp_path, capsys, reference_copy, replace_in, fashion_dir):
    replace_in(reference_copy / "scratchcnn" / "model.py", "def build_guide_cnn_bn(",
               "def renamed_away(")
    try:
        code = main(["train", "--impl", str(reference_copy), "--dataset", "fashion",
                     "--model", "cnn-bn", "--limit", "50", "--out", str(tmp_path), "--quiet"])
    finally:
        load_impl("solutions")  # the reference again, for the tests that follow
    assert code == 2
    assert capsys.readouterr().err == (
        f"cnnkit train: model 'cnn-bn' needs build_guide_cnn_bn in "
        f"{reference_copy / 'scratchcnn' / 'model.py'} (bonus Phase 12)\n")


def test_a_batch_norm_model_needs_blocks_to_load(impl, tmp_path, reference_copy):
    path = tmp_path / "model.npz"
    save_model(path, trained_bn(impl), {"dataset": "fashion"})
    (reference_copy / "scratchcnn" / "blocks.py").unlink()
    try:
        with pytest.raises(ValueError, match="has a BatchNorm2D layer, which needs .*blocks.py"):
            load_model(path, load_impl(reference_copy))
    finally:
        load_impl("solutions")
