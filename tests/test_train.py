"""`cnnkit train` / `cnnkit evaluate`, the trainer's fast path, and the reference's layers on
either memory layout.

Learning, determinism and saving are checked on scikit-learn's digits (seconds, offline); the
command line on a few hundred MNIST images; the milestone itself, a full default training run to
99% on MNIST, is marked slow (about a minute and a half on 2 cores; CI runs it).
MNIST is read from $CNNKIT_DATA, else from <repo>/../shared/data/mnist (tests/conftest.py).
"""

import json

import numpy as np
import pytest
from scratchcnn import conv, layers, pool

from cnnkit.cli import main
from cnnkit.data import load_digits_nchw
from cnnkit.parallel import DataParallel
from cnnkit.train import (
    Recipe, build_model, fit, load_impl, load_model, no_input_grad, pool_before_relu, save_model,
)



@pytest.fixture(scope="module")
def impl():
    return load_impl("solutions")


@pytest.fixture(scope="module")
def digits():
    d = load_digits_nchw()
    return {"x_train": d.x_train, "y_train": d.y_train, "x_test": d.x_test, "y_test": d.y_test}


def small_cnn(impl, seed):
    L = impl.layers
    rng = np.random.default_rng(seed)
    return impl.model.CNN([L.Conv2D(1, 8, 3, padding=1, rng=rng), L.ReLU(), L.MaxPool2D(2, 2),
                           L.Flatten(), L.Dense(8 * 4 * 4, 10, rng=rng)])


def quiet_fit(impl, model, recipe, data):
    return fit(impl, model, recipe, data, progress=False, report=lambda *_: None)


# --- the reference's conv and pool work on either memory layout; its layers are their wrappers --
# (test_reference.py checks the contract functions on NCHW arrays against the loop definitions;
# here the same inputs stored channels-last, as the reference's layers hand them on, must give
# the same results through the layers)

CONV_CASES = [((2, 3, 7, 6), (4, 3, 3, 2), 1, 0), ((2, 3, 7, 6), (4, 3, 3, 2), 2, 1),
              ((3, 2, 9, 11), (2, 2, 2, 3), 3, 2), ((2, 1, 28, 28), (5, 1, 3, 3), 1, 0)]


def channels_last(x):
    """The same values as x (N, C, H, W), stored in (N, H, W, C) order."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONV_CASES)
@pytest.mark.parametrize("layout", [np.ascontiguousarray, channels_last])
def test_conv_layer_on_either_layout_equals_contract_functions_on_nchw(
        x_shape, w_shape, stride, padding, layout):
    rng = np.random.default_rng(0)
    x_nchw = rng.standard_normal(x_shape)
    x = layout(x_nchw)
    layer = layers.Conv2D(w_shape[1], w_shape[0], w_shape[2:], stride, padding, rng=1,
                          dtype=np.float64)
    layer.params["b"][:] = rng.standard_normal(w_shape[0])
    before = x.copy()
    out = layer.forward(x)
    expected, cache = conv.conv2d_forward(x_nchw, layer.params["w"], layer.params["b"], stride,
                                          padding)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    dout_nchw = rng.standard_normal(out.shape)
    dx = layer.backward(layout(dout_nchw))
    for got, want in zip((dx, layer.grads["w"], layer.grads["b"]),
                         conv.conv2d_backward(dout_nchw, cache)):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("shape, size, stride", [((2, 3, 8, 8), 2, 2), ((2, 3, 11, 9), 2, 2),
                                                 ((1, 2, 9, 9), 3, 3), ((1, 2, 10, 10), 2, 3),
                                                 ((1, 2, 7, 7), 3, 2)])
@pytest.mark.parametrize("layout", [np.ascontiguousarray, channels_last])
def test_pool_layer_on_either_layout_equals_contract_functions_on_nchw_with_ties(
        shape, size, stride, layout):
    rng = np.random.default_rng(1)
    x_nchw = rng.integers(0, 3, shape).astype(np.float32)  # many ties within windows
    layer = layers.MaxPool2D(size, stride)
    out = layer.forward(layout(x_nchw))
    expected, cache = pool.max_pool_forward(x_nchw, size, stride)
    np.testing.assert_array_equal(out, expected)
    dout_nchw = rng.standard_normal(out.shape).astype(np.float32)
    dx = layer.backward(layout(dout_nchw))
    assert dx.dtype == np.float32
    np.testing.assert_array_equal(dx, pool.max_pool_backward(dout_nchw, cache))


def test_conv_layer_can_skip_the_input_gradient():
    rng = np.random.default_rng(2)
    x = channels_last(rng.standard_normal((3, 2, 9, 8)))
    full, first = (layers.Conv2D(2, 4, 3, 2, 1, rng=5, dtype=np.float64) for _ in range(2))
    first.input_grad = False
    dout = rng.standard_normal(full.forward(x).shape)
    np.testing.assert_array_equal(first.forward(x), full.forward(x))
    assert full.backward(dout).shape == x.shape
    assert first.backward(dout) is None
    for name in ("w", "b"):
        np.testing.assert_array_equal(first.grads[name], full.grads[name])


def test_training_skips_only_the_first_layers_input_gradient(impl):
    model = impl.model.build_guide_cnn(rng=0)
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    _, dlogits = impl.layers.softmax_cross_entropy(model.forward(x), np.arange(4))
    with no_input_grad(model), DataParallel(model, threads=2) as parallel:
        assert [getattr(layer, "input_grad", None) for layer in parallel.replicas[1].layers
                if isinstance(layer, impl.layers.Conv2D)] == [False, True]
        parallel.forward(x)
        assert parallel.backward(dlogits) is None
        assert set(parallel.grads) == set(model.params)
    model.forward(x)  # the data-parallel run left the model holding one shard's cache
    assert model.layers[0].input_grad and model.backward(dlogits).shape == x.shape
    dense = build_model(impl, "dense", 0)  # a first layer without the option: untouched
    with no_input_grad(dense):
        assert not hasattr(dense.layers[0], "input_grad")


def test_training_runs_relu_after_max_pool_with_the_same_results(impl):
    """pool_before_relu: logits, dx and every gradient equal running the layers in list order,
    bit for bit, including windows whose maximum is 0; the order is restored afterwards."""
    rng = np.random.default_rng(0)
    in_order, reordered = (impl.model.build_guide_cnn(rng=0) for _ in range(2))
    x = rng.standard_normal((3, 1, 28, 28)).astype(np.float32)
    x[0] = 0
    dlogits = rng.standard_normal((3, 10)).astype(np.float32)
    logits, dx = in_order.forward(x), in_order.backward(dlogits)
    names = [type(layer).__name__ for layer in reordered.layers]
    with pool_before_relu(reordered):
        assert [type(layer).__name__ for layer in reordered.layers[1:3]] == ["MaxPool2D", "ReLU"]
        assert set(reordered.params) == set(in_order.params)
        assert np.array_equal(reordered.forward(x), logits)
        assert np.array_equal(reordered.backward(dlogits), dx)
    for name, grad in in_order.grads.items():
        assert np.array_equal(reordered.grads[name], grad), name
    assert [type(layer).__name__ for layer in reordered.layers] == names


# --- learning, determinism, saving ----------------------------------------------------------


def test_training_learns_digits(impl, digits):
    recipe = Recipe(epochs=4, batch_size=32, lr=0.05, seed=0, threads=2)
    history = quiet_fit(impl, small_cnn(impl, 0), recipe, digits)
    first, last = history.epochs[0], history.epochs[-1]
    assert last["train_loss"] < first["train_loss"] / 2
    assert last["test_accuracy"] > 0.9, history.epochs


def test_same_seed_same_result(impl, digits):
    recipe = Recipe(epochs=1, batch_size=32, seed=5, threads=2)
    runs = []
    for seed in (5, 5, 6):
        model = small_cnn(impl, seed)
        history = quiet_fit(impl, model, Recipe(**{**recipe.__dict__, "seed": seed}), digits)
        runs.append((model.params, history.epochs[0]["test_loss"]))
    (a, loss_a), (b, loss_b), (c, _) = runs
    assert loss_a == loss_b
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert any(not np.array_equal(a[name], c[name]) for name in a)


@pytest.mark.parametrize("kind", ["cnn", "dense"])
def test_save_and_load_round_trip(impl, tmp_path, kind):
    model = build_model(impl, kind, 7)
    path = tmp_path / "model.npz"
    save_model(path, model, {"kind": kind, "test_accuracy": 0.5})
    loaded, architecture = load_model(path, impl)
    assert architecture["metadata"] == {"kind": kind, "test_accuracy": 0.5}
    assert [repr(layer) for layer in loaded.layers] == [repr(layer) for layer in model.layers]
    assert set(loaded.params) == set(model.params)
    for name, p in model.params.items():
        np.testing.assert_array_equal(loaded.params[name], p)
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    with np.load(path, allow_pickle=False) as saved:  # no pickled objects inside
        assert all(saved[name].dtype != object for name in saved.files)


def test_loading_something_else_is_a_clear_error(impl, tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, w=np.zeros(3))
    with pytest.raises(ValueError, match="not a cnnkit model"):
        load_model(path, impl)


# --- the command line ------------------------------------------------------------------------


def test_train_command_quick_run_and_evaluate(tmp_path, capsys, mnist_dir):
    out = tmp_path / "run"
    assert main(["train", "--data", str(mnist_dir), "--limit", "300", "--epochs", "1",
                 "--out", str(out), "--quiet"]) == 0
    shown = capsys.readouterr().out
    for expected in ("225,034", "203,530", "Conv2D(1, 32", "epoch 1/1", "test loss",
                     "results", "translation", "+4px"):
        assert expected in shown, expected
    for name in ("model.npz", "baseline.npz", "metrics.json", "filters.png", "curves.png",
                 "shift.png"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    cnn, dense = metrics["results"]["cnn"], metrics["results"]["dense"]
    assert (cnn["parameters"], dense["parameters"]) == (225034, 203530)
    assert metrics["train_images"] == 300 and len(cnn["history"]) == 1
    assert set(metrics["shift"]["accuracy"]) == {"cnn", "dense"}
    assert metrics["peak_memory_mib"] > 0
    result = tmp_path / "evaluate.json"
    assert main(["evaluate", str(out / "model.npz"), "--data", str(mnist_dir), "--limit", "300",
                 "--json", str(result)]) == 0
    assert json.loads(result.read_text())["test_accuracy"] == cnn["test_accuracy"]


def test_train_on_the_unfinished_release_says_what_to_write(tmp_path, capsys, mnist_dir):
    code = main(["train", "--impl", "assignments", "--data", str(mnist_dir), "--limit", "100",
                 "--out", str(tmp_path), "--quiet"])
    assert code == 2
    assert "Phase 8" in capsys.readouterr().err
    load_impl("solutions")  # the reference again, for the tests that follow


@pytest.mark.parametrize("threads", ["1", "2"])
def test_an_error_in_the_students_code_names_their_line(threads, reference_copy, replace_in,
                                                        tmp_path, capsys, mnist_dir):
    # A Conv2D.backward that stores no gradients: SGD.step finds no grads["0.w"].
    replace_in(reference_copy / "scratchcnn" / "layers.py",
               '        dx, self.grads["w"], self.grads["b"] = conv2d_backward(dout, self.cache)',
               "        dx, _, _ = conv2d_backward(dout, self.cache)")
    code = main(["train", "--impl", str(reference_copy), "--data", str(mnist_dir), "--limit",
                 "100", "--epochs", "1", "--no-baseline", "--threads", threads,
                 "--out", str(tmp_path / "run"), "--quiet"])
    err = "".join(line for line in capsys.readouterr().err.splitlines(keepends=True)
                  if not line.startswith("cnnkit: note: "))  # a note on a local MNIST copy
    assert code == 2
    assert err.startswith("cnnkit train: your scratchcnn raised ValueError: grads has no '0.w' (it "
                          "has ['7.b', '7.w', '9.b', '9.w']): the backward of "
                          "layer 0 must store")
    assert "\n  in your scratchcnn/model.py, line " in err and "raise ValueError(" in err
    assert "Traceback" not in err
    load_impl("solutions")  # the reference again, for the tests that follow


def test_ignored_on_batch_and_lr_schedule_are_said(reference_copy, replace_in, tmp_path, capsys,
                                                   mnist_dir):
    train = reference_copy / "scratchcnn" / "train.py"
    replace_in(train, "        if on_batch is not None:\n            on_batch(loss, correct / len(batch))\n",
               "")
    replace_in(train, "        if lr_schedule is not None:\n            optimizer.lr = lr_schedule(step)\n",
               "")
    assert main(["train", "--impl", str(reference_copy), "--data", str(mnist_dir), "--limit",
                 "100", "--epochs", "1", "--batch-size", "50", "--no-baseline", "--threads", "1",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "warning: your train_epoch called on_batch 0 times in 2 steps" in out
    assert "warning: your train_epoch called lr_schedule 0 times in 2 steps: the cosine schedule" \
        in out
    assert main(["evaluate", str(tmp_path / "run" / "model.npz"), "--impl", str(reference_copy),
                 "--data", str(mnist_dir), "--limit", "100", "--threads", "1"]) == 0
    assert "with your forward pass and evaluate" in capsys.readouterr().out
    load_impl("solutions")  # the reference again, for the tests that follow


@pytest.mark.slow
def test_default_training_reaches_99_percent_and_reloads(reference_run, mnist_dir, tmp_path):
    metrics = json.loads((reference_run / "metrics.json").read_text())
    accuracy = metrics["results"]["cnn"]["test_accuracy"]
    assert metrics["test_images"] == 10000 and metrics["train_images"] == 60000
    assert accuracy >= 0.99, metrics["results"]["cnn"]["history"]
    result = tmp_path / "evaluate.json"
    assert main(["evaluate", str(reference_run / "model.npz"), "--data", str(mnist_dir),
                 "--json", str(result)]) == 0
    assert json.loads(result.read_text())["test_accuracy"] == accuracy
