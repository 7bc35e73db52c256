"""Public tests of scratchcnn/model.py: Phase 8 (the CNN container and SGD with momentum)."""

import numpy as np
import pytest
from helpers import assert_close, assert_gradient, needs, numerical_gradient

from scratchcnn.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU, softmax_cross_entropy
from scratchcnn.model import CNN, SGD, build_guide_cnn


def small_cnn():
    return CNN([Conv2D(1, 2, 3, padding=1, rng=0, dtype=np.float64), ReLU(), MaxPool2D(2, 2),
                Flatten(), Dense(2 * 3 * 3, 3, rng=1, dtype=np.float64)])


@pytest.mark.phase8
def test_guide_cnn_shapes_and_parameter_count():
    model = build_guide_cnn(rng=0)
    logits = model.forward(np.zeros((2, 1, 28, 28), dtype=np.float32))
    assert logits.shape == (2, 10), f"guide CNN: expected logits shape (2, 10), got {logits.shape}"
    assert model.num_parameters() == 225_034, (
        f"guide CNN: expected 225,034 parameters, got {model.num_parameters():,}")


@pytest.mark.phase8
def test_cnn_backward_numerical_gradient():
    rng = np.random.default_rng(0)
    model = small_cnn()
    x, y = rng.standard_normal((2, 1, 6, 6)), np.array([0, 2])

    def loss_of(_):
        return needs(softmax_cross_entropy, model.forward(x), y)[0]

    _, dlogits = needs(softmax_cross_entropy, model.forward(x), y)
    model.backward(dlogits)
    grads = {name: g.copy() for name, g in model.grads.items()}
    assert set(grads) == {"0.w", "0.b", "4.w", "4.b"}, (
        f"CNN.grads keys must be '<layer index>.<name>' (got {sorted(grads)})")
    for name, p in model.params.items():
        assert_gradient(grads[name], numerical_gradient(loss_of, p, 1.0), f"CNN.grads[{name!r}]")


@pytest.mark.phase8
def test_sgd_momentum_hand_example():
    """p = 1, g = 0.5, lr = 0.1, momentum 0.9: v = 0.5, p = 0.95; then v = 0.95, p = 0.855."""
    params = {"p": np.array([1.0])}
    optimizer = SGD(lr=0.1, momentum=0.9)
    optimizer.step(params, {"p": np.array([0.5])})
    assert_close(params["p"], [0.95], "SGD step 1 p")
    optimizer.step(params, {"p": np.array([0.5])})
    assert_close(params["p"], [0.855], "SGD step 2 p")


@pytest.mark.phase8
def test_sgd_updates_model_parameters_in_place():
    model = small_cnn()
    before = {name: p.copy() for name, p in model.params.items()}
    x, y = np.random.default_rng(1).standard_normal((4, 1, 6, 6)), np.array([0, 1, 2, 0])
    _, dlogits = needs(softmax_cross_entropy, model.forward(x), y)
    model.backward(dlogits)
    SGD(lr=0.1).step(model.params, model.grads)
    for name, p in model.params.items():
        assert_close(p, before[name] - 0.1 * model.grads[name], f"after one SGD step {name}")
