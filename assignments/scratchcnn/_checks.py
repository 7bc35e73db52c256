"""Argument checks shared by the layers: clear errors instead of silent broadcasting.

Every message names the argument, what it got and what it needs, e.g.
"x must be 4-D (N, C, H, W) (got shape (3, 28, 28))".
"""

import numpy as np


def check_float_array(name, a, ndim, axes):
    """Check that `a` is a floating ndarray with `ndim` dimensions named by `axes` (any number
    of dimensions when ndim is None)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray (got {type(a).__name__})")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {axes} (got shape {a.shape})")
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{name} must have a floating dtype (got {a.dtype})")


def check_positive_int(name, value, minimum=1):
    """Check that `value` is an int >= `minimum` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int (got {type(value).__name__} {value!r})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum} (got {value})")


def check_number(name, value, low, high, low_open=False, high_open=False):
    """Check that `value` is a real number in the interval from `low` to `high` (ends included
    unless low_open / high_open), e.g. "p must be in [0, 1) (got 1.0)"."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number (got {type(value).__name__} {value!r})")
    above = low < value if low_open else low <= value
    below = value < high if high_open else value <= high
    if not (above and below):  # also refuses nan
        raise ValueError(f"{name} must be in {'(' if low_open else '['}{low}, {high}"
                         f"{')' if high_open else ']'} (got {value})")


def check_channels(name, a, channels):
    """Check that the (N, C, ...) array `a` has C == `channels`."""
    if a.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels (got {a.shape[1]})")


def output_size(name, size, kernel, stride, padding):
    """(size + 2*padding - kernel)//stride + 1, refusing kernels that do not fit."""
    if size + 2 * padding < kernel:
        raise ValueError(
            f"{name} with padding {padding} is {size + 2 * padding}, smaller than the kernel "
            f"size {kernel}: no valid output position"
        )
    return (size + 2 * padding - kernel) // stride + 1


def check_conv_args(x, w, b, stride, padding):
    """Validate a convolution's arguments; return the output size (Ho, Wo)."""
    check_float_array("x", x, 4, "(N, C, H, W)")
    check_float_array("w", w, 4, "(F, C, kh, kw)")
    check_float_array("b", b, 1, "(F,)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"w must have C = {x.shape[1]} input channels like x (got w shape {w.shape}, "
            f"x shape {x.shape})"
        )
    if b.shape[0] != w.shape[0]:
        raise ValueError(f"b must have shape ({w.shape[0]},) (got shape {b.shape})")
    check_window_args(x.shape, w.shape[2], w.shape[3], stride, padding)
    return conv_output_shape(x.shape, w.shape[2], w.shape[3], stride, padding)


def check_window_args(x_shape, kh, kw, stride, padding):
    """Validate kernel sizes, stride and padding of a sliding window over x_shape (N, C, H, W)."""
    check_positive_int("kh", kh)
    check_positive_int("kw", kw)
    check_positive_int("stride", stride)
    check_positive_int("padding", padding, minimum=0)
    conv_output_shape(x_shape, kh, kw, stride, padding)


def conv_output_shape(x_shape, kh, kw, stride, padding):
    """(Ho, Wo) of a kh x kw window sliding over x_shape (N, C, H, W)."""
    return (output_size("H", x_shape[2], kh, stride, padding),
            output_size("W", x_shape[3], kw, stride, padding))


def check_shape(name, a, expected):
    """Check that ndarray `a` has exactly the shape `expected`."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray (got {type(a).__name__})")
    if a.shape != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)} (got shape {a.shape})")
