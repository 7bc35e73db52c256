"""Public tests of scratchcnn/layers.py: Phases 6 (flatten), 7 (dense, ReLU, loss), 8 (layers)."""

import numpy as np
import pytest
from helpers import (
    assert_close, assert_gradient, distinct_values, needs, numerical_gradient, stale_memory,
)

from scratchcnn.conv import conv2d_forward
from scratchcnn.layers import (
    Conv2D, MaxPool2D, dense_backward, dense_forward, flatten_backward, flatten_forward,
    relu_backward, relu_forward, softmax_cross_entropy,
)
from scratchcnn.pool import max_pool_forward


@pytest.mark.phase6
def test_flatten_row_major():
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2)
    out, _ = flatten_forward(x)
    assert_close(out, np.arange(24.0).reshape(2, 12), "flatten_forward(x (2, 3, 2, 2)) out")


@pytest.mark.phase6
def test_flatten_backward_restores_shape():
    x = np.random.default_rng(0).standard_normal((4, 64, 5, 5))
    out, cache = flatten_forward(x)
    assert out.shape == (4, 1600), f"flatten_forward(x (4, 64, 5, 5)): expected shape (4, 1600), " \
                                   f"got {out.shape}"
    dout = np.random.default_rng(1).standard_normal(out.shape)
    stale_memory(dout.nbytes)  # dx must be written, not added to whatever np.empty held
    dx = flatten_backward(dout, cache)
    assert_close(dx, dout.reshape(x.shape), "flatten_backward(dout (4, 1600)) dx")


@pytest.mark.phase7
def test_dense_forward_hand_example():
    out, _ = dense_forward(np.array([[1.0, 2.0]]), np.array([[1.0, 0.0, 2.0], [3.0, 1.0, 0.0]]),
                           np.array([0.5, 0.0, -1.0]))
    assert_close(out, [[7.5, 2.0, 1.0]], "dense_forward([[1, 2]], w, b) out")


@pytest.mark.phase7
def test_dense_forward_keeps_the_input_dtype():
    """float32 x with float64 w and b (the layer's own dtype may differ): out is float32."""
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((3, 5)).astype(np.float32), rng.standard_normal((5, 4)), \
        rng.standard_normal(4)
    out, _ = dense_forward(x, w, b)
    assert out.dtype == np.float32, f"dense_forward(x float32, w float64): out must be " \
                                    f"float32 (x's dtype), got {out.dtype}"
    assert_close(out, x.astype(np.float64) @ w + b, "dense_forward(x float32) out", rtol=1e-5)


@pytest.mark.phase7
def test_dense_numerical_gradient():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 4)), rng.standard_normal(4)
    out, cache = dense_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = dense_backward(dout, cache)
    assert_gradient(dx, numerical_gradient(lambda v: dense_forward(v, w, b)[0], x, dout), "dx")
    assert_gradient(dw, numerical_gradient(lambda v: dense_forward(x, v, b)[0], w, dout), "dw")
    assert_gradient(db, numerical_gradient(lambda v: dense_forward(x, w, v)[0], b, dout), "db")


@pytest.mark.phase7
def test_relu_forward_and_backward():
    x = np.array([[-2.0, 0.0, 0.5, 3.0]])
    out, cache = relu_forward(x)
    assert_close(out, [[0, 0, 0.5, 3]], "relu_forward([[-2, 0, 0.5, 3]]) out")
    dx = relu_backward(np.array([[5.0, 5.0, 5.0, 5.0]]), cache)
    assert_close(dx, [[0, 0, 5, 5]], "relu_backward(5, x = [[-2, 0, 0.5, 3]]) dx (0 at x == 0, "
                 "dout wherever x > 0)")


@pytest.mark.phase7
def test_softmax_cross_entropy_uniform_logits():
    """Equal logits give probability 1/K to every class: loss log K, gradient (1/K - onehot)/N."""
    loss, dlogits = softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
    assert_close(loss, np.log(4), "softmax_cross_entropy(zeros (2, 4)) loss")
    assert_close(dlogits, [[-0.375, 0.125, 0.125, 0.125], [0.125, 0.125, 0.125, -0.375]],
                 "softmax_cross_entropy(zeros (2, 4)) dlogits")


@pytest.mark.phase7
def test_softmax_cross_entropy_large_logits_stay_finite():
    loss, dlogits = softmax_cross_entropy(np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.array([0, 0]))
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits)), "overflow: subtract the max logit"
    assert_close(loss, 500.0, "softmax_cross_entropy([[1000, 0], [0, 1000]], [0, 0]) loss")


@pytest.mark.phase7
def test_softmax_cross_entropy_rows_far_apart():
    """Each row is shifted by its own largest logit: by the batch's, the low row's exp() is 0."""
    logits = np.array([[1000.0, 999.0], [-1000.0, -1001.0]])
    loss, dlogits = softmax_cross_entropy(logits, np.array([0, 0]))
    one_row, _ = softmax_cross_entropy(np.array([[0.0, -1.0]]), np.array([0]))
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits)), \
        "underflow: subtract each row's own largest logit, not the batch's"
    assert_close(loss, one_row, "softmax_cross_entropy(rows [1000, 999] and [-1000, -1001]) loss")


@pytest.mark.phase7
def test_softmax_cross_entropy_numerical_gradient():
    rng = np.random.default_rng(3)
    logits, y = rng.standard_normal((5, 10)), rng.integers(0, 10, 5)
    _, dlogits = softmax_cross_entropy(logits, y)
    numeric = numerical_gradient(lambda v: softmax_cross_entropy(v, y)[0], logits, 1.0)
    assert_gradient(dlogits, numeric, "dlogits")


@pytest.mark.phase8
def test_conv2d_layer_matches_function_and_fills_grads():
    rng = np.random.default_rng(4)
    layer = Conv2D(3, 4, (3, 2), stride=2, padding=1, rng=0, dtype=np.float64)
    x = rng.standard_normal((2, 3, 7, 6))
    out = layer.forward(x)
    expected, _ = needs(conv2d_forward, x, layer.params["w"], layer.params["b"], 2, 1)
    assert_close(out, expected, "Conv2D(3, 4, (3, 2), stride=2, padding=1).forward out")
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    assert set(layer.grads) == {"w", "b"}, f"Conv2D.grads must have keys w, b (got {set(layer.grads)})"
    w = layer.params["w"]
    numeric = numerical_gradient(lambda v: conv_layer_output(layer, w=v, x=x), w.copy(), dout)
    assert_gradient(layer.grads["w"], numeric, "Conv2D.grads['w']")
    assert_gradient(dx, numerical_gradient(lambda v: conv_layer_output(layer, w=w, x=v),
                                           x.copy(), dout), "Conv2D.backward dx")


def conv_layer_output(layer, w, x):
    """The layer's forward output with its weights replaced by w."""
    saved = layer.params["w"]
    layer.params["w"] = w
    try:
        return layer.forward(x)
    finally:
        layer.params["w"] = saved


@pytest.mark.phase8
def test_maxpool2d_layer_matches_function():
    x = distinct_values(np.random.default_rng(5), (2, 3, 6, 6))
    layer = MaxPool2D(2, 2)
    out = layer.forward(x)
    expected, _ = needs(max_pool_forward, x, 2, 2)
    assert_close(out, expected, "MaxPool2D(2, 2).forward out")
    dout = np.random.default_rng(6).standard_normal(out.shape)
    numeric = numerical_gradient(lambda v: max_pool_forward(v, 2, 2)[0], x, dout)
    assert_gradient(layer.backward(dout), numeric, "MaxPool2D.backward dx")
