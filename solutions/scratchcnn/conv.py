"""Convolution, three ways: loops (Phase 1), im2col + one matmul (Phase 2), and backward (Phase 3).

Conventions (NCHW everywhere):
    x    (N, C, H, W)     a batch of N images with C channels
    w    (F, C, kh, kw)   F filters
    b    (F,)             one bias per filter
    out  (N, F, Ho, Wo)   Ho = (H + 2*padding - kh)//stride + 1, Wo likewise

"Convolution" here is cross-correlation, as in PyTorch's conv2d: the filter is not flipped.
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
    ### BEGIN SOLUTION
    N, F = x.shape[0], w.shape[0]
    kh, kw = w.shape[2:]
    xpad = pad_hw(x, padding)
    out = np.empty((N, F, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for oh in range(Ho):
                for ow in range(Wo):
                    window = xpad[n, :, oh * stride:oh * stride + kh, ow * stride:ow * stride + kw]
                    out[n, f, oh, ow] = np.sum(window * w[f]) + b[f]
    return out
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    C = x.shape[1]
    # A strided view (N, C, Ho, Wo, kh, kw) of the windows: no copy until the final reshape.
    windows = sliding_window_view(pad_hw(x, padding), (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * kh * kw, -1)
    ### END SOLUTION


def conv2d_forward(x, w, b, stride=1, padding=0):
    """Phase 2: convolution as one matrix product, out = w_row @ im2col(x) + b.

    Args:
        x, w, b, stride, padding: as in conv2d_forward_naive.
    Returns:
        out: (N, F, Ho, Wo), dtype of x.
        cache: opaque; pass it to conv2d_backward.
    """
    Ho, Wo = check_conv_args(x, w, b, stride, padding)
    ### BEGIN SOLUTION
    N, F = x.shape[0], w.shape[0]
    kh, kw = w.shape[2:]
    cols = im2col(x, kh, kw, stride, padding)  # (C*kh*kw, N*Ho*Wo)
    w_row, b_col = w.reshape(F, -1).astype(x.dtype), b.astype(x.dtype)[:, None]
    if w_row.shape[1] < F:
        # Fewer inputs per output than outputs (a first layer): writing the output is most of
        # the work, so one product per image (a view of its columns) writes it straight into
        # NCHW order, with no second pass to reorder it.
        out = np.matmul(w_row, cols.reshape(-1, N, Ho * Wo).transpose(1, 0, 2))  # (N, F, Ho*Wo)
        out += b_col
    else:
        # One large product runs faster than N small ones; the bias is added in the same pass
        # that reorders its (F, N*Ho*Wo) result into NCHW.
        out = np.empty((N, F, Ho * Wo), dtype=x.dtype)
        np.add((w_row @ cols).reshape(F, N, Ho * Wo).transpose(1, 0, 2), b_col, out=out)
    cache = (x.shape, w, cols, stride, padding)
    return out.reshape(N, F, Ho, Wo), cache
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    cols6 = cols.reshape(C, kh, kw, N, Ho, Wo).transpose(3, 0, 1, 2, 4, 5)  # (N, C, kh, kw, Ho, Wo)
    xpad = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    # One vectorised add per kernel offset (kh*kw of them); windows overlap only across offsets.
    for i in range(kh):
        for j in range(kw):
            xpad[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride] += cols6[:, :, i, j]
    return xpad[:, :, padding:padding + H, padding:padding + W].copy() if padding else xpad
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    x_shape, w, cols, stride, padding = cache
    F, _, kh, kw = w.shape
    Ho, Wo = conv_output_shape(x_shape, kh, kw, stride, padding)
    check_shape("dout", dout, (x_shape[0], F, Ho, Wo))
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*Ho*Wo), columns as in im2col
    db = dout_rows.sum(axis=1)
    dw = (dout_rows @ cols.T).reshape(w.shape)
    dcols = w.reshape(F, -1).T.astype(dout.dtype) @ dout_rows
    dx = col2im(dcols, x_shape, kh, kw, stride, padding)
    return dx, dw.astype(w.dtype), db.astype(w.dtype)
    ### END SOLUTION
