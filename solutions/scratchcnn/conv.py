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
    # im2col with its axes in channels-last order (see the module docstring): rows (n, oh, ow),
    # columns (i, j, c), so the product's result is already (N, Ho, Wo, F).
    N, F = x.shape[0], w.shape[0]
    C, kh, kw = w.shape[1:]
    K = kh * kw * C
    xh = x.transpose(0, 2, 3, 1)  # (N, H, W, C): a view; contiguous if x is channels-last
    xh = np.pad(xh, ((0, 0), (padding, padding), (padding, padding), (0, 0))) if padding \
        else np.ascontiguousarray(xh)
    windows = sliding_window_view(xh, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    # The bias trick: cols gets a last column of ones and the filter matrix b as its last row,
    # so the product adds the bias (a broadcast add over the output costs more) and backward's
    # product with the same cols yields db with dw.
    if kw * C >= Wo:  # rows (N*Ho*Wo, K+1): the copy moves runs of kw*C consecutive numbers
        cols = np.empty((N * Ho * Wo, K + 1), dtype=x.dtype)
        # Splitting the contiguous last axis of cols[:, :K] is always a view: no second copy.
        cols[:, :K].reshape(N, Ho, Wo, kh, kw, C)[...] = windows.transpose(0, 1, 2, 4, 5, 3)
        cols[:, K] = 1
    else:  # few channels (a first layer): longer runs along output rows, copied into cols.T
        cols_t = np.empty((K + 1, N * Ho * Wo), dtype=x.dtype)
        cols_t[:K].reshape(kh, kw, C, N, Ho, Wo)[...] = windows.transpose(4, 5, 3, 0, 1, 2)
        cols_t[K] = 1
        cols = cols_t.T
    w_mat = np.concatenate([w.transpose(2, 3, 1, 0).reshape(K, F), b[None]]).astype(
        x.dtype, copy=False)  # (K+1, F)
    out = cols @ w_mat  # (N*Ho*Wo, F)
    # A dict, so that a layer may switch off dL/dx for backward (Conv2D.input_grad).
    cache = {"padded_shape": xh.shape, "w": w, "cols": cols, "stride": stride,
             "padding": padding, "input_grad": True}
    return out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2), cache
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
    w, cols, s, p = cache["w"], cache["cols"], cache["stride"], cache["padding"]
    N, Hp, Wp, C = cache["padded_shape"]
    F, _, kh, kw = w.shape
    Ho, Wo = conv_output_shape((N, C, Hp, Wp), kh, kw, s, 0)  # over the padded image
    check_shape("dout", dout, (N, F, Ho, Wo))
    # Channels-last, as forward: dout's rows (n, oh, ow) match cols' rows.
    dout_rows = np.ascontiguousarray(dout.transpose(0, 2, 3, 1)).reshape(N * Ho * Wo, F)
    # (K+1, F), the column of ones giving db. (This order of the product runs faster than
    # dout_rows.T @ cols for the first layer's few long columns.)
    dw_db = cols.T @ dout_rows
    K = kh * kw * C
    dw = np.ascontiguousarray(dw_db[:K].reshape(kh, kw, C, F).transpose(3, 2, 0, 1),
                              dtype=w.dtype)
    db = dw_db[K].astype(w.dtype)
    if not cache["input_grad"]:  # a first layer (Conv2D.input_grad): nothing uses dL/dx
        return None, dw, db
    # One (N*Ho*Wo, C) block of dcols per kernel offset (a stack of products): col2im then adds
    # whole contiguous blocks, where slicing one product's columns would add C-long runs.
    w_offsets = w.transpose(2, 3, 0, 1).reshape(kh * kw, F, C).astype(dout.dtype, copy=False)
    dcols = np.matmul(dout_rows, w_offsets).reshape(kh, kw, N, Ho, Wo, C)
    dx = np.zeros((N, Hp, Wp, C), dtype=dout.dtype)
    for i in range(kh):  # col2im: one add per kernel offset; windows overlap only across them
        for j in range(kw):
            dx[:, i:i + s * Ho:s, j:j + s * Wo:s] += dcols[i, j]
    return dx[:, p:Hp - p, p:Wp - p].transpose(0, 3, 1, 2), dw, db
    ### END SOLUTION
