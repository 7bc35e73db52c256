"""Assertions with one-line messages a student can act on, and numerical gradients."""

import numpy as np
import pytest


def assert_close(got, expected, what, rtol=1e-6, atol=1e-8):
    """Check that `got` is an ndarray of `expected`'s shape with values close to it.

    `what` names the result in the message, e.g. "conv2d_forward(x (2, 3, 5, 5), stride=2) out".
    """
    expected = np.asarray(expected)
    if expected.ndim == 0 and isinstance(got, (float, np.floating)):
        got = np.asarray(got)
    if not isinstance(got, np.ndarray):
        raise AssertionError(f"{what}: expected an ndarray, got {type(got).__name__}")
    if got.shape != expected.shape:
        raise AssertionError(f"{what}: expected shape {expected.shape}, got shape {got.shape}")
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f" at index {list(index)}" if index else ""
        raise AssertionError(
            f"{what}:{where} expected {expected[index]:.6g}, got {got[index]:.6g} "
            f"({int(bad.sum())} of {bad.size} values differ)")


def needs(fn, *args, **kwargs):
    """Call a function of an earlier phase; skip the test if that phase is not started yet."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as err:
        pytest.skip(f"needs an earlier phase: {err}")


def numerical_gradient(f, x, dout, h=1e-6):
    """d/dx of sum(f(x) * dout) by central differences (x float64; x is restored after)."""
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


def assert_gradient(analytic, numeric, what, tolerance=1e-6):
    """Normalised relative error |a - n| / (|a| + |n|) (2-norms) must be below `tolerance`."""
    if not isinstance(analytic, np.ndarray) or analytic.shape != numeric.shape:
        raise AssertionError(f"{what}: expected an ndarray of shape {numeric.shape}, "
                             f"got {getattr(analytic, 'shape', type(analytic).__name__)}")
    error = np.linalg.norm(analytic - numeric) / max(
        np.linalg.norm(analytic) + np.linalg.norm(numeric), 1e-12)
    if not error < tolerance:
        raise AssertionError(f"{what}: relative error {error:.2e} against the numerical "
                             f"gradient (needs < {tolerance:g})")


def distinct_values(rng, shape):
    """Random float64 values 0.01 apart or more: no ties, so max-pool is differentiable."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 0.5


def stale_memory(nbytes, copies=8):
    """Allocate and free a few NaN-filled blocks of `nbytes`: the next np.empty of that size
    likely reuses one, so a result left partly unwritten shows up as NaN instead of zeros."""
    blocks = [np.full(max(nbytes // 8, 1), np.nan) for _ in range(copies)]
    del blocks
