"""What the hidden suites share: the reference, random cases, tolerances, known mistakes.

Inputs are random, drawn from a seed the grader derives from the submission (so the values in
feedback are not fixed answers to pass around), from every regime of values (`REGIMES`: mixed
signs, all negative, ties and plateaus, large and tiny magnitudes) and of shapes (N = 1, C = 1,
F = 1, non-square inputs and kernels), plus the guide's hand-worked examples. A case's
description names its regime, so a failure tells the student what to try.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from cnnkit.paths import KIT_ROOT, import_scratchcnn
from cnnkit.autograder.suite import Mistake, float_bound

ref = import_scratchcnn(KIT_ROOT / "solutions", ("conv", "pool", "layers", "model", "blocks"),
                       "_cnnkit_reference")

# The guide's 2x2-filter trace on the 4x4 input 1..16 (worked by hand in the public tests).
TRACE_X = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
TRACE_W = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
TRACE_B = np.zeros(1)


# The regimes of values every array-in suite draws from: name -> (rng, shape) -> float64 values.
# Large and tiny stay well inside float32's range (and its products), so one draw serves both.
REGIMES = {
    "mixed signs": lambda rng, shape: rng.standard_normal(shape),
    "all-negative": lambda rng, shape: -rng.uniform(0.5, 5.0, shape),
    "ties and plateaus": lambda rng, shape: rng.integers(-2, 2, shape).astype(np.float64),
    "large magnitudes (~1e12)": lambda rng, shape: rng.standard_normal(shape) * 1e12,
    "tiny magnitudes (~1e-12)": lambda rng, shape: rng.standard_normal(shape) * 1e-12,
}

# The regimes whose values are of size about 1, where central differences are accurate.
UNIT_SCALE = ("mixed signs", "all-negative", "ties and plateaus")


def draw(rng, shape, regime, dtype=np.float64):
    """Values of `shape` from the named regime of `REGIMES`, as `dtype`."""
    return REGIMES[regime](rng, shape).astype(dtype)


@dataclass(frozen=True)
class ConvCase:
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray
    stride: int
    padding: int
    regime: str = "mixed signs"

    @property
    def kh(self):
        return self.w.shape[2]

    @property
    def kw(self):
        return self.w.shape[3]

    @property
    def kwargs(self):
        return {"stride": self.stride, "padding": self.padding}

    def __str__(self):
        return (f"x {self.x.shape} {self.x.dtype} {self.regime}, w {self.w.shape}, "
                f"stride={self.stride}, padding={self.padding}")

    def out_shape(self):
        Ho, Wo = ref.conv.conv_output_shape(self.x.shape, self.kh, self.kw, self.stride,
                                            self.padding)
        return (self.x.shape[0], self.w.shape[0], Ho, Wo)


def conv_cases(rng, dtype=np.float64):
    """Strides 1-3 x padding 0-2 on each shape: rectangular kernels, non-square inputs, N > 1 and
    C > 1, and N = C = F = 1. The values of x cycle through `REGIMES`, so that every stride and
    padding meets several regimes; w and b have mixed signs."""
    shapes = [((2, 3, 7, 6), (4, 3, 3, 2)), ((3, 2, 9, 11), (2, 2, 2, 3)),
              ((2, 4, 6, 8), (3, 4, 3, 3)), ((1, 1, 5, 8), (1, 1, 3, 2))]
    regimes = itertools.cycle(REGIMES)
    cases = []
    for (x_shape, w_shape), stride, padding in itertools.product(shapes, (1, 2, 3), (0, 1, 2)):
        regime = next(regimes)
        cases.append(ConvCase(draw(rng, x_shape, regime, dtype),
                              rng.standard_normal(w_shape).astype(dtype),
                              rng.standard_normal(w_shape[0]).astype(dtype), stride, padding,
                              regime))
    return cases


def conv_bound(case, result_of_abs):
    """Elementwise float tolerance of a convolution result (sums of C*kh*kw products + bias)."""
    terms = case.x.shape[1] * case.kh * case.kw + 1
    return float_bound(case.x.dtype, terms, result_of_abs)


def abs_conv(case):
    """The convolution of |x| with |w| plus |b|: the size of the terms each output sums."""
    return ref.conv.conv2d_forward_naive(np.abs(case.x).astype(np.float64),
                                         np.abs(case.w).astype(np.float64),
                                         np.abs(case.b).astype(np.float64), case.stride,
                                         case.padding)


def as64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def conv_forward_mistakes(case):
    """Known wrong convolutions on this case."""
    x, w, b = as64(case.x, case.w, case.b)
    mistakes = [
        Mistake("the kernel is flipped (true convolution); the contract is cross-correlation, "
                "as PyTorch's conv2d", ref.conv.conv2d_forward_naive(x, w[:, :, ::-1, ::-1], b,
                                                                     case.stride, case.padding)),
        Mistake("the bias is not added", ref.conv.conv2d_forward_naive(
            x, w, np.zeros_like(b), case.stride, case.padding)),
    ]
    if case.stride > 1:
        full = ref.conv.conv2d_forward_naive(x, w, b, 1, case.padding)
        mistakes.append(Mistake("the stride is ignored (every position is computed)", full))
    if case.padding:
        mistakes.append(Mistake("the padding is ignored", ref.conv.conv2d_forward_naive(
            x, w, b, case.stride, 0)))
    return mistakes


def im2col_mistakes(case):
    """Known wrong column layouts of im2col on this case."""
    x = case.x.astype(np.float64)
    N, C = x.shape[:2]
    cols = ref.conv.im2col(x, case.kh, case.kw, case.stride, case.padding)
    Ho, Wo = case.out_shape()[2:]
    by_position = cols.reshape(-1, N, Ho * Wo).transpose(0, 2, 1).reshape(cols.shape[0], -1)
    by_offset = cols.reshape(C, case.kh * case.kw, -1).transpose(1, 0, 2).reshape(cols.shape)
    mistakes = [
        Mistake("columns ordered with n fastest (k = (oh*Wo + ow)*N + n); the contract needs "
                "k = n*Ho*Wo + oh*Wo + ow", by_position),
        Mistake("rows ordered kernel offset first (r = (i*kw + j)*C + c); the contract needs "
                "r = c*kh*kw + i*kw + j", by_offset),
        Mistake("rows and columns swapped: the contract's cols is (C*kh*kw, N*Ho*Wo)", cols.T),
    ]
    if case.padding:
        mistakes.append(Mistake("the padding is ignored",
                                ref.conv.im2col(x, case.kh, case.kw, case.stride, 0)))
    return mistakes


def col2im_mistakes(case, cols):
    """Known wrong folds on this case."""
    N, C, H, W = case.x.shape
    p = case.padding
    overwrite = np.zeros((N, C, H + 2 * p, W + 2 * p))
    Ho, Wo = case.out_shape()[2:]
    blocks = cols.reshape(C, case.kh, case.kw, N, Ho, Wo).transpose(3, 0, 1, 2, 4, 5)
    s = case.stride
    for i in range(case.kh):
        for j in range(case.kw):
            overwrite[:, :, i:i + s * Ho:s, j:j + s * Wo:s] = blocks[:, :, i, j]
    uncropped = ref.conv.col2im(cols, (N, C, H + 2 * p, W + 2 * p), case.kh, case.kw, s, 0) \
        if p else None
    mistakes = [Mistake("overlapping windows overwrite each other; col2im must add (+=) every "
                        "contribution", overwrite[:, :, p:p + H, p:p + W])]
    if uncropped is not None:
        mistakes.append(Mistake("the padding is not cropped: dx must have x's shape", uncropped))
    return mistakes


@dataclass(frozen=True)
class PoolCase:
    x: np.ndarray
    size: int
    stride: int
    regime: str = "mixed signs"

    @property
    def kwargs(self):
        return {"size": self.size, "stride": self.stride}

    def __str__(self):
        return (f"x {self.x.shape} {self.x.dtype} {self.regime}, size={self.size}, "
                f"stride={self.stride}")

    def out_shape(self):
        Ho, Wo = ref.conv.conv_output_shape(self.x.shape, self.size, self.size, self.stride, 0)
        return (*self.x.shape[:2], Ho, Wo)


POOL_SETTINGS = [((2, 3, 8, 8), 2, 2), ((2, 3, 7, 9), 3, 2), ((2, 2, 6, 7), 2, 1),
                 ((3, 2, 9, 8), 2, 3), ((2, 2, 7, 7), 3, 1), ((1, 3, 5, 6), 3, 3),
                 ((1, 1, 5, 8), 2, 2), ((1, 1, 6, 5), 3, 2)]


def pool_cases(rng, dtype=np.float64):
    """Every window setting (tiling, overlapping stride < size, gapped stride > size; N = C = 1
    too) in every regime of `REGIMES`: all-negative windows, ties and plateaus, large and tiny."""
    return [PoolCase(draw(rng, shape, regime, dtype), size, stride, regime)
            for shape, size, stride in POOL_SETTINGS for regime in REGIMES]


def pool_forward_mistakes(case):
    """Known wrong max-pool forwards on this case (windows placed by the wrong step)."""
    x = case.x.astype(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(x, (case.size, case.size), axis=(2, 3))
    pooled = windows[:, :, ::case.stride, ::case.stride].max(axis=(4, 5))
    mistakes = [Mistake("the running maximum starts at 0, so an all-negative window gives 0; "
                        "start from the window's first value (or -inf)", np.maximum(pooled, 0))]
    if case.stride != case.size:
        by_size = windows[:, :, ::case.size, ::case.size].max(axis=(4, 5))
        mistakes.append(Mistake("windows step by the window size, not by the stride (stride is "
                                "ignored)", by_size))
    return mistakes


def pool_backward_mistakes(case, dout):
    """Known wrong routings of the max-pool gradient on this case."""
    x = case.x.astype(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(x, (case.size, case.size), axis=(2, 3))
    windows = windows[:, :, ::case.stride, ::case.stride]
    is_max = windows == windows.max(axis=(4, 5), keepdims=True)
    flat = windows.reshape(*windows.shape[:4], -1)
    last = flat.shape[-1] - 1 - flat[..., ::-1].argmax(axis=-1)
    return [
        Mistake("the gradient goes to every tied maximum of a window; it must go to the first "
                "maximum only (row-major order)", spread(case, is_max * dout[..., None, None])),
        Mistake("ties go to the last maximum; they must go to the first (row-major order)",
                spread(case, one_hot(last, case.size) * dout[..., None, None])),
        Mistake("overlapping windows overwrite each other's gradient; they must add up",
                spread(case, one_hot(flat.argmax(axis=-1), case.size) * dout[..., None, None],
                       add=False)),
    ]


def one_hot(index, size):
    """(..., ) window positions -> (..., size, size) masks."""
    return (np.arange(size * size) == index[..., None]).reshape(*index.shape, size, size)


def spread(case, window_grads, add=True):
    """Scatter per-window gradients (N, C, Ho, Wo, size, size) back onto x's shape."""
    dx = np.zeros(case.x.shape)
    Ho, Wo = window_grads.shape[2:4]
    s, k = case.stride, case.size
    for oh in range(Ho):
        for ow in range(Wo):
            target = dx[:, :, oh * s:oh * s + k, ow * s:ow * s + k]
            if add:
                target += window_grads[:, :, oh, ow]
            else:
                np.copyto(target, window_grads[:, :, oh, ow], where=window_grads[:, :, oh, ow] != 0)
    return dx


def numerical_gradient(f, x, dout, h=1e-6):
    """d/dx sum(f(x) * dout) by central differences, in float64 (the reference's f)."""
    x = x.astype(np.float64).copy()
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        plus = np.sum(f(x) * dout)
        x[index] = old - h
        minus = np.sum(f(x) * dout)
        x[index] = old
        grad[index] = (plus - minus) / (2 * h)
    return grad


# Normalised relative error |a - n| / (|a| + |n|) (2-norms) below which an analytic gradient agrees
# with the numerical one. Central differences with h = 1e-6 in float64 on these small cases give
# about 1e-9 for a correct gradient; any real mistake gives more than 1e-3.
GRADIENT_TOLERANCE = 1e-6


def expect_gradient(analytic, numeric, what):
    if analytic.shape != numeric.shape:
        raise AssertionError(f"{what}: expected shape {numeric.shape}, got shape {analytic.shape}")
    error = np.linalg.norm(analytic - numeric) / max(
        np.linalg.norm(analytic) + np.linalg.norm(numeric), 1e-12)
    if not error < GRADIENT_TOLERANCE:
        raise AssertionError(f"{what}: normalised relative error {error:.1e} against the "
                             f"numerical gradient (needs < {GRADIENT_TOLERANCE:g})")
