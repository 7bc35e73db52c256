"""Bonus layers from the guide's extensions: BatchNorm2D (Phase 12), Dropout and ResidualBlock
(Phase 13), and the AvgPool2D / GlobalAvgPool2D layer wrappers of Phase 10.

Every class is a layer like those of layers.py (params, grads, forward, backward), plus:

    layer.training   True (the default) while training, False for evaluation; `CNN.train()` and
                     `CNN.eval()` set it on every layer. BatchNorm2D and Dropout behave
                     differently in the two modes; the other layers ignore it.
    layer.buffers    dict name -> ndarray of state that gradients do not train (BatchNorm2D's
                     running statistics); empty for the other layers.

Rules the grader enforces for every function and method you write here (its hidden tests check
them): an output has the dtype of the input it comes from (float32 in, float32 out); inputs
(x, w, b, dout, caches) are never modified in place; a cache is opaque, only passed back to
the matching backward; BatchNorm2D's running statistics (buffers) are updated in place, never
replaced by new arrays.
"""

import numpy as np

from ._checks import (check_channels, check_float_array, check_number, check_positive_int,
                      check_shape)
from .layers import Conv2D, Layer, Pool2D, relu_backward, relu_forward
from .pool import (avg_pool_backward, avg_pool_forward, global_avg_pool_backward,
                   global_avg_pool_forward)


def per_channel(values, dtype):
    """(C,) per-channel values -> (1, C, 1, 1) of `dtype`, to broadcast over (N, C, H, W)."""
    return np.asarray(values).astype(dtype, copy=False).reshape(1, -1, 1, 1)


class BatchNorm2D(Layer):
    """Batch normalisation of each channel of (N, C, H, W) inputs, as PyTorch's BatchNorm2d.

    params gamma (C,) (ones) and beta (C,) (zeros): out = gamma * x_hat + beta per channel.
    buffers running_mean (C,) (zeros) and running_var (C,) (ones): the statistics that eval mode
    normalises with. Training mode normalises with the batch's statistics of each channel over
    its M = N*H*W values, x_hat = (x - mean) / sqrt(var + eps) with the biased variance (divided
    by M), and moves the running statistics towards them:

        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)

    (the unbiased variance, PyTorch's convention).
    """

    def __init__(self, num_channels, momentum=0.1, eps=1e-5, dtype=np.float32):
        super().__init__()
        check_positive_int("num_channels", num_channels)
        check_number("momentum", momentum, 0, 1)
        check_number("eps", eps, 0, np.inf, low_open=True)
        self.momentum, self.eps = momentum, eps
        self.params = {"gamma": np.ones(num_channels, dtype=dtype),
                       "beta": np.zeros(num_channels, dtype=dtype)}
        self.buffers = {"running_mean": np.zeros(num_channels, dtype=dtype),
                        "running_var": np.ones(num_channels, dtype=dtype)}

    def __repr__(self):
        return (f"BatchNorm2D({self.params['gamma'].shape[0]}, momentum={self.momentum}, "
                f"eps={self.eps})")

    def forward(self, x):
        """Phase 12: normalise each channel, then scale by gamma and shift by beta.

        Training mode uses the batch's mean and biased variance of each channel and updates the
        running statistics in place (see the class docstring); eval mode uses the running
        statistics and leaves them as they are.

        Args:
            x: (N, C, H, W), floating dtype, C = num_channels.
        Returns:
            out: (N, C, H, W), dtype of x.
        """
        check_float_array("x", x, 4, "(N, C, H, W)")
        check_channels("x", x, self.params["gamma"].shape[0])
        if self.training and x.size // x.shape[1] < 2:
            raise ValueError(f"x must have more than one value per channel in training mode "
                             f"(got shape {x.shape})")
        ### BEGIN SOLUTION
        axes = (0, 2, 3)
        if self.training:
            # float64 accumulators: float32 sums of thousands of values lose several digits
            mean = x.mean(axis=axes, dtype=np.float64)  # (C,)
            centered = x - per_channel(mean, x.dtype)
            var = np.square(centered).mean(axis=axes, dtype=np.float64)  # biased, (C,)
            M, m = x.size // x.shape[1], self.momentum
            for name, batch in (("running_mean", mean), ("running_var", var * M / (M - 1))):
                running = self.buffers[name]
                running[...] = (1 - m) * running + m * batch  # in place: CNN.buffers sees it
        else:
            var = self.buffers["running_var"].astype(np.float64)
            centered = x - per_channel(self.buffers["running_mean"], x.dtype)
        inv_std = 1 / np.sqrt(var + self.eps)  # (C,) float64
        x_hat = centered * per_channel(inv_std, x.dtype)
        gamma, beta = self.params["gamma"], self.params["beta"]
        self.cache = (x_hat, gamma * inv_std, self.training)
        return x_hat * per_channel(gamma, x.dtype) + per_channel(beta, x.dtype)
        ### END SOLUTION

    def backward(self, dout):
        """Phase 12: dL/dx; dL/dgamma and dL/dbeta into self.grads.

        dbeta = sum(dout) and dgamma = sum(dout * x_hat), per channel over N, H, W. Training
        mode differentiates through the batch statistics too (mean and var depend on x), with
        M = N*H*W:

            dx = gamma / sqrt(var + eps) / M * (M * dout - dbeta - x_hat * dgamma)

        Eval mode (fixed running statistics): dx = gamma / sqrt(running_var + eps) * dout.

        Args:
            dout: (N, C, H, W), dL/dout.
        Returns:
            dx: (N, C, H, W), dtype of dout.
        """
        check_float_array("dout", dout, 4, "(N, C, H, W)")
        ### BEGIN SOLUTION
        x_hat, scale, training = self.cache  # scale = gamma / sqrt(var + eps), (C,)
        check_shape("dout", dout, x_hat.shape)
        axes = (0, 2, 3)
        dbeta = dout.sum(axis=axes, dtype=np.float64)  # float64 sums, as in forward
        dgamma = (dout * x_hat).sum(axis=axes, dtype=np.float64)
        dtype = self.params["gamma"].dtype
        self.grads["gamma"], self.grads["beta"] = dgamma.astype(dtype), dbeta.astype(dtype)
        if not training:
            return dout * per_channel(scale, dout.dtype)
        M = dout.size // dout.shape[1]
        return per_channel(scale / M, dout.dtype) * (
            M * dout - per_channel(dbeta, dout.dtype) - x_hat * per_channel(dgamma, dout.dtype))
        ### END SOLUTION


class Dropout(Layer):
    """Inverted dropout, any input shape (N, ...).

    Training mode zeroes each value with probability p and scales the kept ones by 1/(1-p), so
    that the expected output is x and eval mode is the identity, with nothing to rescale.
    rng: None, an int seed or a np.random.Generator, as np.random.default_rng(rng); made once
    here, so each forward draws a new mask from one stream (and a seed repeats the masks).
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        check_number("p", p, 0, 1, high_open=True)
        self.p = p
        self.rng = np.random.default_rng(rng)

    def __repr__(self):
        return f"Dropout(p={self.p})"

    def forward(self, x):
        """Phase 13: out = x * mask in training mode, mask = (rng.random(x.shape) >= p) / (1 - p)
        (a new mask on every call); x itself in eval mode or with p = 0.

        Args:
            x: (N, ...) any shape, floating dtype.
        Returns:
            out: the shape and dtype of x.
        """
        check_float_array("x", x, None, "(N, ...)")
        ### BEGIN SOLUTION
        if not self.training or self.p == 0:
            self.cache = None  # backward passes dout through
            return x
        keep = self.rng.random(x.shape) >= self.p
        self.cache = keep * x.dtype.type(1 / (1 - self.p))  # the mask, x's dtype
        return x * self.cache
        ### END SOLUTION

    def backward(self, dout):
        """Phase 13: dx = dout * mask, with the mask of the last forward (dout in eval mode).

        Args:
            dout: the shape of forward's x, dL/dout.
        Returns:
            dx: the shape and dtype of dout.
        """
        check_float_array("dout", dout, None, "(N, ...)")
        ### BEGIN SOLUTION
        if self.cache is None:
            return dout
        check_shape("dout", dout, self.cache.shape)
        return dout * self.cache.astype(dout.dtype, copy=False)
        ### END SOLUTION


class ResidualBlock(Layer):
    """out = relu(conv2(relu(conv1(x))) + x): two 3x3 convolutions with padding 1, so that the
    branch keeps x's shape (N, channels, H, W) and can be added to it (the skip connection).

    The inner layers are `layers` = {"conv1": Conv2D, "conv2": Conv2D} (also the attributes
    conv1 and conv2). params, grads and buffers are theirs, keyed "conv1.w", "conv1.b",
    "conv2.w", "conv2.b": the same arrays, so an optimizer updating params trains the
    convolutions, and running their backward fills grads.
    """

    def __init__(self, channels, rng=None, dtype=np.float32):
        # No Layer.__init__: params, grads and buffers are read from the inner layers (below).
        check_positive_int("channels", channels)
        rng = np.random.default_rng(rng)
        self.conv1 = Conv2D(channels, channels, 3, padding=1, rng=rng, dtype=dtype)
        self.conv2 = Conv2D(channels, channels, 3, padding=1, rng=rng, dtype=dtype)
        self.layers = {"conv1": self.conv1, "conv2": self.conv2}
        self.training = True
        self.cache = None

    def __repr__(self):
        return f"ResidualBlock({self.conv1.params['w'].shape[0]})"

    def _inner(self, attribute):
        """{"<inner layer name>.<key>": array} of the inner layers' params, grads or buffers."""
        return {f"{name}.{key}": value for name, layer in self.layers.items()
                for key, value in getattr(layer, attribute).items()}

    @property
    def params(self):
        return self._inner("params")

    @property
    def grads(self):
        return self._inner("grads")

    @property
    def buffers(self):
        return self._inner("buffers")

    def forward(self, x):
        """Phase 13: out = relu(conv2(relu(conv1(x))) + x), through self.conv1 and self.conv2.

        Args:
            x: (N, channels, H, W), floating dtype.
        Returns:
            out: (N, channels, H, W), dtype of x.
        """
        check_float_array("x", x, 4, "(N, C, H, W)")
        check_channels("x", x, self.conv1.params["w"].shape[1])
        ### BEGIN SOLUTION
        hidden, relu1 = relu_forward(self.conv1.forward(x))
        out, relu2 = relu_forward(self.conv2.forward(hidden) + x)
        self.cache = (relu1, relu2, out.shape)  # relu's caches are opaque: keep the shape apart
        return out
        ### END SOLUTION

    def backward(self, dout):
        """Phase 13: dL/dx through the branch plus the skip; the convolutions' backward fills
        grads ("conv1.w", ...).

        Args:
            dout: (N, channels, H, W), dL/dout.
        Returns:
            dx: (N, channels, H, W), dtype of dout.
        """
        check_float_array("dout", dout, 4, "(N, C, H, W)")
        ### BEGIN SOLUTION
        relu1, relu2, out_shape = self.cache
        check_shape("dout", dout, out_shape)
        dsum = relu_backward(dout, relu2)  # dL/d(branch + x): reaches both the branch and x
        dhidden = relu_backward(self.conv2.backward(dsum), relu1)
        return self.conv1.backward(dhidden) + dsum
        ### END SOLUTION


class AvgPool2D(Pool2D):
    """Average pooling layer: (N, C, H, W) -> (N, C, Ho, Wo), no parameters (Phase 10's
    avg_pool_forward / avg_pool_backward)."""

    def forward(self, x):
        out, self.cache = avg_pool_forward(x, self.size, self.stride)
        return out

    def backward(self, dout):
        return avg_pool_backward(dout, self.cache)


class GlobalAvgPool2D(Layer):
    """Global average pooling layer: (N, C, H, W) -> (N, C), the mean of each channel, no
    parameters (Phase 10's global_avg_pool_forward / global_avg_pool_backward)."""

    def forward(self, x):
        out, self.cache = global_avg_pool_forward(x)
        return out

    def backward(self, dout):
        return global_avg_pool_backward(dout, self.cache)
