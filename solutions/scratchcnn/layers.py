"""Layers: flatten (Phase 6), dense, ReLU and the loss (Phase 7), conv and pool layers (Phase 8).

Each functional piece comes as `*_forward(...) -> (out, cache)` with its `*_backward(dout, cache)`
right below it. The layer classes wrap them with parameters:

    layer.params   dict name -> ndarray   (e.g. {"w": ..., "b": ...}; empty without parameters)
    layer.grads    dict with the same keys, filled by backward
    layer.forward(x) -> out               (remembers what backward needs)
    layer.backward(dout) -> dx

The reference's Conv2D and MaxPool2D compute exactly what conv2d_forward/backward and
max_pool_forward/backward compute (the kit's tests check they agree), but in channels-last
memory order, which NumPy runs several times faster:

- Arrays between layers keep the contract's NCHW shape (N, C, H, W); the reference's conv and
  pool layers return them as NCHW views of (N, H, W, C) memory. Elementwise layers (ReLU)
  keep that order for free; Flatten copies into C, H, W order as the contract says.
- Conv2D: im2col in channels-last order gives rows (N*Ho*Wo, kh*kw*C) in which each window
  row is kw*C consecutive floats, so the copy moves long runs instead of Wo-long pieces (with
  few channels, as in the first layer, the transposed copy has the longer runs); one
  matrix product with the filters, reordered to (kh*kw*C, F), gives the output already in
  (N, Ho, Wo, F) order. A column of ones in cols and b as a row of the filter matrix put the
  bias in that product (and db in backward's dw product): broadcast adds and sums over the
  N*Ho*Wo rows cost more than the matmul's extra column. Backward: dw by one product; dx by one
  product per kernel offset (a stacked matmul), then folded back with one vectorised add per
  offset of a whole contiguous block. A first layer may skip dx (`input_grad`).
- MaxPool2D (non-overlapping windows, the usual 2x2/2): each window offset is a strided view
  of the (N, H, W, C) array whose innermost axis is C, so max, first argmax and the gradient's
  scatter are a few elementwise ops per offset over C-long runs. Overlapping windows use the
  contract functions.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import check_conv_args, check_float_array, check_positive_int, check_shape
# The student's Conv2D calls these; the reference's Conv2D computes the same in channels-last
# order (see above).
from .conv import conv2d_backward, conv2d_forward  # noqa: F401
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
    return x.reshape(x.shape[0], -1), x.shape
    ### END SOLUTION


def flatten_backward(dout, cache):
    """Phase 6: (N, D) -> the shape of flatten_forward's input."""
    ### BEGIN SOLUTION
    return dout.reshape(cache)
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
        # Same result as conv2d_forward(x, w, b, stride, padding), in channels-last order.
        w, b = self.params["w"], self.params["b"]
        check_conv_args(x, w, b, self.stride, self.padding)
        F, C, kh, kw = w.shape
        N, p, s = x.shape[0], self.padding, self.stride
        xh = np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (p, p), (p, p), (0, 0))) if p \
            else x.transpose(0, 2, 3, 1)  # (N, H, W, C), a view when x is channels-last
        windows = sliding_window_view(xh, (kh, kw), axis=(1, 2))[:, ::s, ::s]  # (N,Ho,Wo,C,kh,kw)
        Ho, Wo = windows.shape[1:3]
        K = kh * kw * C
        # The bias trick: cols gets a last column of ones and the weight matrix b as its last
        # row, so the product adds the bias (a separate broadcast add over the output is slower)
        # and backward's product with the same cols yields db with dw.
        if kw * C >= Wo:  # rows (N*Ho*Wo, K+1): the copy moves runs of kw*C consecutive numbers
            cols = np.empty((N * Ho * Wo, K + 1), dtype=x.dtype)
            # Splitting the contiguous last axis of cols[:, :K] is always a view: no 2nd copy.
            cols[:, :K].reshape(N, Ho, Wo, kh, kw, C)[...] = windows.transpose(0, 1, 2, 4, 5, 3)
            cols[:, K] = 1
        else:  # few channels (the first layer): copy runs along output rows, use the transpose
            cols_t = np.empty((K + 1, N * Ho * Wo), dtype=x.dtype)
            cols_t[:K].reshape(kh, kw, C, N, Ho, Wo)[...] = windows.transpose(4, 5, 3, 0, 1, 2)
            cols_t[K] = 1
            cols = cols_t.T
        w_mat = np.concatenate([w.transpose(2, 3, 1, 0).reshape(K, F), b[None]]).astype(
            x.dtype, copy=False)  # (K+1, F)
        out = cols @ w_mat  # (N*Ho*Wo, F)
        self.cache = (xh.shape, cols)
        return out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)
        ### END SOLUTION

    def backward(self, dout):
        """Phase 8: conv2d_backward; store dL/dw, dL/db in self.grads; return dL/dx."""
        ### BEGIN SOLUTION
        # Same result as conv2d_backward, in channels-last order (see forward).
        padded_shape, cols = self.cache
        w = self.params["w"]
        F, C, kh, kw = w.shape
        N, Hp, Wp, _ = padded_shape
        p, s = self.padding, self.stride
        check_float_array("dout", dout, 4, "(N, F, Ho, Wo)")
        Ho, Wo = (Hp - kh) // s + 1, (Wp - kw) // s + 1
        check_shape("dout", dout, (N, F, Ho, Wo))
        dout_rows = np.ascontiguousarray(dout.transpose(0, 2, 3, 1)).reshape(N * Ho * Wo, F)
        dw_db = dout_rows.T @ cols  # (F, K+1): the column of ones gives db (see forward)
        K = kh * kw * C
        self.grads["w"] = np.ascontiguousarray(
            dw_db[:, :K].reshape(F, kh, kw, C).transpose(0, 3, 1, 2), dtype=w.dtype)
        self.grads["b"] = dw_db[:, K].astype(w.dtype)
        if not self.input_grad:
            return None
        # One (N*Ho*Wo, C) block of dcols per kernel offset (a stack of products): col2im then
        # adds whole contiguous blocks, where slicing one product's columns would add C-long runs.
        w_offsets = w.transpose(2, 3, 0, 1).reshape(kh * kw, F, C).astype(dout.dtype, copy=False)
        dcols = np.matmul(dout_rows, w_offsets).reshape(kh, kw, N, Ho, Wo, C)
        dx = np.zeros((N, Hp, Wp, C), dtype=dout.dtype)
        for i in range(kh):  # col2im: one add per kernel offset, windows overlap only across them
            for j in range(kw):
                dx[:, i:i + s * Ho:s, j:j + s * Wo:s] += dcols[i, j]
        return dx[:, p:Hp - p, p:Wp - p].transpose(0, 3, 1, 2)
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
        if self.stride < self.size:  # overlapping windows: the contract function
            out, self.cache = max_pool_forward(x, self.size, self.stride)
            return out
        # Same result as max_pool_forward, in channels-last order (see the module docstring).
        check_float_array("x", x, 4, "(N, C, H, W)")
        x_shape, x = x.shape, x.transpose(0, 2, 3, 1)  # (N, H, W, C)
        size, s = self.size, self.stride
        Ho, Wo = (x.shape[1] - size) // s + 1, (x.shape[2] - size) // s + 1
        # Offset (i, j) of every window at once, row-major: x[:, rows, cols] is a strided view
        # (N, Ho, Wo, C) whose innermost axis is C, so each op below runs over C-long runs.
        offsets = [(slice(i, i + s * Ho, s), slice(j, j + s * Wo, s))
                   for i in range(size) for j in range(size)]
        out = x[:, offsets[0][0], offsets[0][1]].copy()  # (N, Ho, Wo, C)
        for rows, cols in offsets[1:]:
            np.maximum(out, x[:, rows, cols], out=out)
        # The first maximum in row-major order, as in max_pool_forward: offset o has priority
        # k - o; keep the highest priority among the offsets that hold the maximum. (Masked
        # writes, np.copyto(where=) or first[mask] = o, branch per element and are 10x slower.)
        k = len(offsets)
        priority = np.zeros(out.shape, dtype=np.min_scalar_type(k))
        for o, (rows, cols) in enumerate(offsets):
            np.maximum(priority, (x[:, rows, cols] == out) * priority.dtype.type(k - o),
                       out=priority)
        first = k - priority
        self.cache = (x_shape, first, offsets)
        return out.transpose(0, 3, 1, 2)
        ### END SOLUTION

    def backward(self, dout):
        """Phase 8: max_pool_backward; return dL/dx."""
        ### BEGIN SOLUTION
        if self.stride < self.size:
            return max_pool_backward(dout, self.cache)
        x_shape, first, offsets = self.cache  # first: (N, Ho, Wo, C), each window's first max
        N, C, H, W = x_shape
        check_float_array("dout", dout, 4, "(N, C, Ho, Wo)")
        check_shape("dout", dout, (N, C, *first.shape[1:3]))
        dx = np.zeros((N, H, W, C), dtype=dout.dtype)
        dout = dout.transpose(0, 2, 3, 1)
        for o, (rows, cols) in enumerate(offsets):  # windows don't overlap: write, not add
            np.multiply(dout, first == o, out=dx[:, rows, cols])
        return dx.transpose(0, 3, 1, 2)
        ### END SOLUTION
