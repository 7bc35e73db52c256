"""Public tests of scratchcnn/model.py: Phase 8 (the CNN container and SGD with momentum) and
bonus Phase 11 (the receptive-field calculator)."""

import numpy as np
import pytest
from helpers import assert_close, assert_gradient, needs, numerical_gradient

from scratchcnn.conv import conv2d_backward, conv2d_forward
from scratchcnn.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU, softmax_cross_entropy
from scratchcnn.model import CNN, SGD, build_guide_cnn, receptive_field
from scratchcnn.pool import avg_pool_backward, avg_pool_forward


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


@pytest.mark.phase8
def test_sgd_leaves_the_gradients_it_is_given_alone():
    """The velocity is the optimizer's own array: later steps must not write into the first
    step's gradients (the model's grads would change under it)."""
    params = {"p": np.array([1.0, 2.0])}
    first = {"p": np.array([0.5, -0.5])}
    optimizer = SGD(lr=0.1, momentum=0.9)
    optimizer.step(params, first)
    optimizer.step(params, {"p": np.array([0.25, 0.25])})
    assert_close(first["p"], [0.5, -0.5], "the first step's grads['p'] after a second step "
                 "(keep a copy as the velocity, not the gradient array itself)")


GUIDE_LAYERS = [("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1)]
STRIDED_CONVS = [("conv", 3, 2), ("conv", 3, 2), ("conv", 3, 1)]


@pytest.mark.phase11
@pytest.mark.parametrize("layers, expected", [
    # r = 1 + 2 = 3; + 1*1 = 4 (jump now 2); + 2*2 = 8; + 1*2 = 10 (jump 4); + 2*4 = 18
    (GUIDE_LAYERS, [3, 4, 8, 10, 18]),
    # stride-2 convs: 3; + 2*2 = 7 (jump 4); + 2*4 = 15
    (STRIDED_CONVS, [3, 7, 15]),
    # an overlapping 3/2 pool, then a 5x5 conv: 3; + 4*2 = 11
    ([("pool", 3, 2), ("conv", 5, 1)], [3, 11]),
    # 1x1 convs see no further than the layer below them
    ([("conv", 1, 1), ("conv", 3, 1), ("conv", 1, 1)], [1, 3, 3]),
], ids=["guide", "stride2-convs", "overlapping-pool", "1x1-convs"])
def test_receptive_field_hand_examples(layers, expected):
    got = receptive_field(layers)
    assert list(got) == expected, f"receptive_field({layers}): expected {expected}, got {got}"
    assert all(isinstance(r, (int, np.integer)) for r in got), (
        f"receptive_field({layers}) must return ints (got {got})")


def gradient_reach(layers, side):
    """How many input rows the gradient of the top-left output unit reaches, through real
    layers: convs of ones and average pools (positive weights, so nothing cancels)."""
    x, backwards = np.ones((1, 1, side, side)), []
    for kind, kernel, stride in layers:
        if kind == "conv":
            x, cache = conv2d_forward(x, np.ones((1, 1, kernel, kernel)), np.zeros(1), stride)
            backwards.append(lambda dout, cache=cache: conv2d_backward(dout, cache)[0])
        else:
            x, cache = avg_pool_forward(x, kernel, stride)
            backwards.append(lambda dout, cache=cache: avg_pool_backward(dout, cache))
    grad = np.zeros_like(x)
    grad[0, 0, 0, 0] = 1
    for backward in reversed(backwards):
        grad = backward(grad)
    return int(np.flatnonzero(grad[0, 0].any(axis=1))[-1]) + 1


@pytest.mark.phase11
@pytest.mark.parametrize("layers", [GUIDE_LAYERS, STRIDED_CONVS], ids=["guide", "stride2-convs"])
def test_receptive_field_is_where_the_gradient_reaches(layers):
    """The receptive field after layer i is the input region one unit's gradient reaches."""
    reach = [needs(gradient_reach, layers[:i + 1], 24) for i in range(len(layers))]
    got = receptive_field(layers)
    assert list(got) == reach, (f"receptive_field({layers}): the gradient of one unit reaches "
                                f"{reach} input pixels, got {got}")

