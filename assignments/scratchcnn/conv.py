"""Convolution, three ways: loops (Phase 1), im2col + one matmul (Phase 2), and backward (Phase 3).

Conventions (NCHW everywhere):
    x    (N, C, H, W)     a batch of N images with C channels
    w    (F, C, kh, kw)   F filters
    b    (F,)             one bias per filter
    out  (N, F, Ho, Wo)   Ho = (H + 2*padding - kh)//stride + 1, Wo likewise

"Convolution" here is cross-correlation, as in PyTorch's conv2d: the filter is not flipped.

How the reference's conv2d_forward/backward are fast: the same im2col idea, with the axes in
channels-last order. x is read as (N, H, W, C) (a free view when x already is channels-last
memory, as the reference's layers hand it on; one transposing copy otherwise), and the columns
are the rows of a (N*Ho*Wo, kh*kw*C) matrix: each window row is then kw*C consecutive numbers,
so the copy moves long runs instead of Wo-long pieces, and the single product with the filters
yields the output already in (N, Ho, Wo, F) order, returned as an NCHW view of that memory.
im2col and col2im themselves keep the textbook layout their docstrings give (Phases 2 and 3
grade it).

Rules the grader enforces for every function and method you write here (its hidden tests check
them): an output has the dtype of the input it comes from (float32 in, float32 out); inputs
(x, w, b, dout, caches) are never modified in place; a cache is opaque, only passed back to
the matching backward.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import (
    check_conv_args, check_float_array, check_shape, check_window_args, conv_output_shape,
)


def pad_hw(x, padding):
    """Zero-pad x (N, C, H, W) by `padding` on both sides of H and W -> (N, C, H+2p, W+2p)."""
    if padding == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    """Phase 1: convolution with explicit loops, the definition made executable.

    out[n, f, oh, ow] = b[f] + sum over c, i, j of
                        xpad[n, c, oh*stride + i, ow*stride + j] * w[f, c, i, j]

    Args:
        x: (N, C, H, W) input, floating dtype.
        w: (F, C, kh, kw) filters.
        b: (F,) biases.
        stride: step between windows (int >= 1).
        padding: zeros added on each side of H and W (int >= 0).
    Returns:
        out: (N, F, Ho, Wo), dtype of x.
    """
    Ho, Wo = check_conv_args(x, w, b, stride, padding)
    raise NotImplementedError('Phase 1 (naive convolution): implement conv2d_forward_naive in scratchcnn/conv.py')


def im2col(x, kh, kw, stride=1, padding=0):
    """Phase 2: unfold every kh x kw window of x into a column.

    cols[r, k] = xpad[n, c, oh*stride + i, ow*stride + j]  with
        row    r = c*kh*kw + i*kw + j          (channel, then kernel row, then kernel column)
        column k = n*Ho*Wo + oh*Wo + ow        (image, then output row, then output column)

    Args:
        x: (N, C, H, W) input.
        kh, kw: window height and width.
        stride, padding: as in conv2d_forward_naive.
    Returns:
        cols: (C*kh*kw, N*Ho*Wo), dtype of x.
    """
    check_float_array("x", x, 4, "(N, C, H, W)")
    check_window_args(x.shape, kh, kw, stride, padding)
    raise NotImplementedError('Phase 2 (im2col and fast convolution): implement im2col in scratchcnn/conv.py')


def conv2d_forward(x, w, b, stride=1, padding=0):
    """Phase 2: convolution as one matrix product, out = w_row @ im2col(x) + b.

    Args:
        x, w, b, stride, padding: as in conv2d_forward_naive.
    Returns:
        out: (N, F, Ho, Wo), dtype of x.
        cache: opaque; pass it to conv2d_backward.
    """
    Ho, Wo = check_conv_args(x, w, b, stride, padding)
    raise NotImplementedError('Phase 2 (im2col and fast convolution): implement conv2d_forward in scratchcnn/conv.py')


def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    """Phase 3: the adjoint of im2col: fold columns back into an image, summing overlaps.

    Every entry cols[r, k] is added to the xpad position it was read from in im2col; positions
    read by several windows receive the sum; the padding is cropped at the end.

    Args:
        cols: (C*kh*kw, N*Ho*Wo), as produced by im2col.
        x_shape: (N, C, H, W), the shape of the image im2col unfolded.
        kh, kw, stride, padding: as in im2col.
    Returns:
        dx: array of shape x_shape, dtype of cols.
    """
    check_float_array("cols", cols, 2, "(C*kh*kw, N*Ho*Wo)")
    x_shape = tuple(x_shape)
    if len(x_shape) != 4:
        raise ValueError(f"x_shape must be 4-D (N, C, H, W) (got {x_shape})")
    check_window_args(x_shape, kh, kw, stride, padding)
    N, C, H, W = x_shape
    Ho, Wo = conv_output_shape(x_shape, kh, kw, stride, padding)
    check_shape("cols", cols, (C * kh * kw, N * Ho * Wo))
    raise NotImplementedError('Phase 3 (col2im and convolution backward): implement col2im in scratchcnn/conv.py')


def conv2d_backward(dout, cache):
    """Phase 3: gradients of conv2d_forward.

    Args:
        dout: (N, F, Ho, Wo), dL/dout.
        cache: from conv2d_forward.
    Returns:
        dx: (N, C, H, W), dL/dx, dtype of dout.
        dw: (F, C, kh, kw), dL/dw.
        db: (F,), dL/db.
    """
    check_float_array("dout", dout, 4, "(N, F, Ho, Wo)")
    raise NotImplementedError('Phase 3 (col2im and convolution backward): implement conv2d_backward in scratchcnn/conv.py')
