"""Layers: flatten (Phase 6), dense, ReLU and the loss (Phase 7), conv and pool layers (Phase 8).

Each functional piece comes as `*_forward(...) -> (out, cache)` with its `*_backward(dout, cache)`
right below it. The layer classes wrap them with parameters:

    layer.params   dict name -> ndarray   (e.g. {"w": ..., "b": ...}; empty without parameters)
    layer.grads    dict with the same keys, filled by backward
    layer.forward(x) -> out               (remembers what backward needs)
    layer.backward(dout) -> dx

Conv2D and MaxPool2D call conv2d_forward/backward and max_pool_forward/backward. The reference's
conv and pool functions work in channels-last memory order, which NumPy runs several times
faster (conv.py and pool.py say how): arrays between layers keep the contract's NCHW shape
(N, C, H, W) but are views of (N, H, W, C) memory; elementwise layers (ReLU) keep that order for
free, and Flatten copies into C, H, W order as the contract says.

Rules the grader enforces for every function and method you write here (its hidden tests check
them): an output has the dtype of the input it comes from (float32 in, float32 out); inputs
(x, w, b, dout, caches) are never modified in place; a cache is opaque, only passed back to
the matching backward; a layer's backward stores its gradients in self.grads under the names of
self.params.
"""

import numpy as np

from ._checks import check_float_array, check_positive_int, check_shape
from .conv import conv2d_backward, conv2d_forward
from .pool import max_pool_backward, max_pool_forward


def flatten_forward(x):
    """Phase 6: (N, d1, d2, ...) -> (N, d1*d2*...), row-major (C, H, W order for images).

    Returns:
        out: (N, D), dtype of x.
        cache: opaque; pass it to flatten_backward.
    """
    if not isinstance(x, np.ndarray) or x.ndim < 2:
        raise ValueError(f"x must be an ndarray with a batch axis, at least 2-D (N, ...) "
                         f"(got {getattr(x, 'shape', type(x).__name__)})")
    ### BEGIN SOLUTION
    return x.reshape(x.shape[0], -1), x
    ### END SOLUTION


def flatten_backward(dout, cache):
    """Phase 6: (N, D) -> the shape of flatten_forward's input."""
    ### BEGIN SOLUTION
    x = cache
    # dx in x's memory order (channels-last from the reference's pool): the layers below then
    # combine it with their caches in one order, where mixed orders run several times slower.
    dx = np.empty_like(x, dtype=dout.dtype)
    dx[...] = dout.reshape(x.shape)
    return dx
    ### END SOLUTION


def dense_forward(x, w, b):
    """Phase 7: out = x @ w + b.

    Args:
        x: (N, D) inputs.
        w: (D, M) weights.
        b: (M,) biases.
    Returns:
        out: (N, M), dtype of x.
        cache: opaque; pass it to dense_backward.
    """
    check_float_array("x", x, 2, "(N, D)")
    check_float_array("w", w, 2, "(D, M)")
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"w must have D = {x.shape[1]} rows like x's columns "
                         f"(got w shape {w.shape}, x shape {x.shape})")
    check_shape("b", b, (w.shape[1],))
    ### BEGIN SOLUTION
    # astype(copy=False): no copy of w per call when the dtypes already agree (the usual case)
    return x @ w.astype(x.dtype, copy=False) + b.astype(x.dtype, copy=False), (x, w)
    ### END SOLUTION


def dense_backward(dout, cache):
    """Phase 7: gradients of dense_forward.

    Args:
        dout: (N, M), dL/dout.
    Returns:
        dx: (N, D); dw: (D, M); db: (M,).
    """
    ### BEGIN SOLUTION
    x, w = cache
    dx = dout @ w.T.astype(dout.dtype, copy=False)
    return (dx, (x.T @ dout).astype(w.dtype, copy=False),
            dout.sum(axis=0).astype(w.dtype, copy=False))
    ### END SOLUTION


def relu_forward(x):
    """Phase 7: max(x, 0) elementwise. Returns (out, cache), out with the shape and dtype of x."""
    ### BEGIN SOLUTION
    out = np.maximum(x, 0)
    return out, out > 0
    ### END SOLUTION


def relu_backward(dout, cache):
    """Phase 7: dL/dx = dL/dout where the input was positive, 0 elsewhere (0 at x == 0)."""
    ### BEGIN SOLUTION
    return dout * cache
    ### END SOLUTION


def softmax_cross_entropy(logits, y):
    """Phase 7: mean softmax cross-entropy loss and its gradient.

    Args:
        logits: (N, K) class scores.
        y: (N,) integer labels in 0..K-1.
    Returns:
        loss: float, -mean_n log softmax(logits[n])[y[n]].
        dlogits: (N, K), dL/dlogits = (softmax(logits) - onehot(y)) / N, dtype of logits.
    """
    check_float_array("logits", logits, 2, "(N, K)")
    y = np.asarray(y)
    if y.shape != logits.shape[:1] or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be integer labels of shape ({logits.shape[0]},) "
                         f"(got {y.dtype} shape {y.shape})")
    if y.size and (y.min() < 0 or y.max() >= logits.shape[1]):
        raise ValueError(f"y must be in 0..{logits.shape[1] - 1} (got {y.min()}..{y.max()})")
    ### BEGIN SOLUTION
    N = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)  # exp() cannot overflow
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].mean()
    dlogits = np.exp(log_probs)
    dlogits[np.arange(N), y] -= 1
    return float(loss), dlogits / N
    ### END SOLUTION


class Layer:
    """Base class: a layer without parameters.

    training: True while training (the default), False for evaluation (`CNN.train()` and
    `CNN.eval()` set it); only layers that behave differently (BatchNorm2D, Dropout) read it.
    buffers: state that is not trained by gradients (BatchNorm2D's running statistics).
    """

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.training = True
        self.cache = None

    def __repr__(self):
        return f"{type(self).__name__}()"


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W)."""

    def forward(self, x):
        out, self.cache = flatten_forward(x)
        return out

    def backward(self, dout):
        return flatten_backward(dout, self.cache)


class ReLU(Layer):
    """Elementwise max(x, 0), any shape."""

    def forward(self, x):
        out, self.cache = relu_forward(x)
        return out

    def backward(self, dout):
        return relu_backward(dout, self.cache)


def he_normal(rng, shape, fan_in, dtype):
    """Weights ~ N(0, 2/fan_in): keeps activations' variance steady through ReLU layers."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


class Dense(Layer):
    """Fully connected: (N, in_features) -> (N, out_features). params w (in, out), b (out,)."""

    def __init__(self, in_features, out_features, rng=None, dtype=np.float32):
        super().__init__()
        check_positive_int("in_features", in_features)
        check_positive_int("out_features", out_features)
        rng = np.random.default_rng(rng)
        self.params = {"w": he_normal(rng, (in_features, out_features), in_features, dtype),
                       "b": np.zeros(out_features, dtype=dtype)}

    def __repr__(self):
        return f"Dense({self.params['w'].shape[0]}, {self.params['w'].shape[1]})"

    def forward(self, x):
        out, self.cache = dense_forward(x, self.params["w"], self.params["b"])
        return out

    def backward(self, dout):
        dx, self.grads["w"], self.grads["b"] = dense_backward(dout, self.cache)
        return dx


class Conv2D(Layer):
    """Convolution layer: (N, in_channels, H, W) -> (N, out_channels, Ho, Wo).

    params w (out_channels, in_channels, kh, kw) and b (out_channels,).
    kernel_size is an int or a (kh, kw) pair.

    input_grad (default True): whether backward computes dL/dx. A trainer may set it to False on
    the network's first layer, whose input is the data: nothing uses that gradient, so backward
    may skip it and return None. (The reference's Conv2D does; computing dx anyway is fine too.)
    """

    input_grad = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, rng=None,
                 dtype=np.float32):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        for name, value in [("in_channels", in_channels), ("out_channels", out_channels),
                            ("kh", kh), ("kw", kw), ("stride", stride)]:
            check_positive_int(name, value)
        check_positive_int("padding", padding, minimum=0)
        self.stride, self.padding = stride, padding
        rng = np.random.default_rng(rng)
        fan_in = in_channels * kh * kw
        self.params = {"w": he_normal(rng, (out_channels, in_channels, kh, kw), fan_in, dtype),
                       "b": np.zeros(out_channels, dtype=dtype)}

    def __repr__(self):
        F, C, kh, kw = self.params["w"].shape
        return f"Conv2D({C}, {F}, ({kh}, {kw}), stride={self.stride}, padding={self.padding})"

    def forward(self, x):
        """Phase 8: conv2d_forward with this layer's parameters; keep the cache for backward."""
        ### BEGIN SOLUTION
        out, self.cache = conv2d_forward(x, self.params["w"], self.params["b"], self.stride,
                                         self.padding)
        return out
        ### END SOLUTION

    def backward(self, dout):
        """Phase 8: conv2d_backward; store dL/dw, dL/db in self.grads; return dL/dx."""
        ### BEGIN SOLUTION
        if not self.input_grad:  # a trainer's first layer; the reference's cache is a dict
            self.cache["input_grad"] = False
        dx, self.grads["w"], self.grads["b"] = conv2d_backward(dout, self.cache)
        return dx
        ### END SOLUTION


class Pool2D(Layer):
    """A pooling layer's window: size x size, every `stride` pixels; no parameters."""

    def __init__(self, size=2, stride=2):
        super().__init__()
        check_positive_int("size", size)
        check_positive_int("stride", stride)
        self.size, self.stride = size, stride

    def __repr__(self):
        return f"{type(self).__name__}({self.size}, stride={self.stride})"


class MaxPool2D(Pool2D):
    """Max pooling layer: (N, C, H, W) -> (N, C, Ho, Wo), no parameters."""

    def forward(self, x):
        """Phase 8: max_pool_forward; keep the cache for backward."""
        ### BEGIN SOLUTION
        out, self.cache = max_pool_forward(x, self.size, self.stride)
        return out
        ### END SOLUTION

    def backward(self, dout):
        """Phase 8: max_pool_backward; return dL/dx."""
        ### BEGIN SOLUTION
        return max_pool_backward(dout, self.cache)
        ### END SOLUTION
