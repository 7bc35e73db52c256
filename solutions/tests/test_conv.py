"""Public tests of scratchcnn/conv.py: Phases 1 (naive), 2 (im2col, fast forward), 3 (backward)."""

import numpy as np
import pytest
from helpers import assert_close, assert_gradient, needs, numerical_gradient

from scratchcnn.conv import col2im, conv2d_backward, conv2d_forward, conv2d_forward_naive, im2col

# The guide's trace, worked by hand: the 4x4 input 1..16 and the 2x2 filter [[1, 2], [3, 4]].
# out[i, j] = x[i, j] + 2 x[i, j+1] + 3 x[i+1, j] + 4 x[i+1, j+1] = 40 i + 10 j + 44.
TRACE_X = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
TRACE_W = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
TRACE_B = np.zeros(1)
TRACE_OUT = [[[[44, 54, 64], [84, 94, 104], [124, 134, 144]]]]
# With dL/dY = ones: dL/dW[p, q] is the sum of the 3x3 block of x at offset (p, q); x[1, 1] = 6
# sits under every filter tap once, so dL/dX[1, 1] = 1 + 2 + 3 + 4.
TRACE_DW = [[[[54, 63], [90, 99]]]]
TRACE_DX_11 = 10.0

CASES = [  # (x shape, w shape, stride, padding): rectangular kernels, non-square inputs
    ((2, 3, 7, 6), (4, 3, 3, 2), 1, 0),
    ((2, 3, 7, 6), (4, 3, 3, 2), 2, 1),
    ((1, 2, 8, 9), (3, 2, 2, 3), 3, 2),
    ((1, 1, 5, 8), (1, 1, 3, 2), 2, 1),  # N = C = F = 1
    ((3, 2, 6, 5), (2, 2, 2, 2), 1, 2),
]


def contract_entries(x_shape, kh, kw, stride, padding):
    """Every entry of the contract's cols: (row, column, (n, c, h, w) in the padded x).

    Row r = c*kh*kw + i*kw + j (channel, then kernel row, then kernel column); column
    k = n*Ho*Wo + oh*Wo + ow (image, then output row, then output column); the entry is
    x_padded[n, c, oh*stride + i, ow*stride + j].
    """
    N, C, H, W = x_shape
    Ho, Wo = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    for c in range(C):
        for i in range(kh):
            for j in range(kw):
                for n in range(N):
                    for oh in range(Ho):
                        for ow in range(Wo):
                            yield (c * kh * kw + i * kw + j, n * Ho * Wo + oh * Wo + ow,
                                   (n, c, oh * stride + i, ow * stride + j))


def random_conv(rng, x_shape, w_shape, dtype=np.float64):
    return (rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype),
            rng.standard_normal(w_shape[0]).astype(dtype))


@pytest.mark.phase1
def test_naive_guide_trace():
    out = conv2d_forward_naive(TRACE_X, TRACE_W, TRACE_B)
    assert_close(out, TRACE_OUT, "conv2d_forward_naive(1..16, [[1, 2], [3, 4]]) out")


@pytest.mark.phase1
@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CASES)
def test_naive_output_shape(x_shape, w_shape, stride, padding):
    x, w, b = random_conv(np.random.default_rng(0), x_shape, w_shape)
    out = conv2d_forward_naive(x, w, b, stride=stride, padding=padding)
    Ho = (x_shape[2] + 2 * padding - w_shape[2]) // stride + 1
    Wo = (x_shape[3] + 2 * padding - w_shape[3]) // stride + 1
    assert out.shape == (x_shape[0], w_shape[0], Ho, Wo), (
        f"conv2d_forward_naive(x {x_shape}, w {w_shape}, stride={stride}, padding={padding}): "
        f"expected shape {(x_shape[0], w_shape[0], Ho, Wo)}, got {out.shape}")


@pytest.mark.phase1
def test_naive_identity_kernel_with_padding():
    """A 3x3 kernel with a single 1 in the centre and padding 1 returns the input."""
    x = np.random.default_rng(1).standard_normal((2, 1, 5, 4))
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 1, 1] = 1
    out = conv2d_forward_naive(x, w, np.zeros(1), stride=1, padding=1)
    assert_close(out, x, "conv2d_forward_naive(x, centre kernel, padding=1) out")


@pytest.mark.phase1
def test_naive_one_by_one_kernel_mixes_channels():
    """A 1x1 convolution is a matrix product over channels at every pixel, plus the bias."""
    x, w, b = random_conv(np.random.default_rng(2), (2, 3, 4, 5), (4, 3, 1, 1))
    expected = np.einsum("nchw,fc->nfhw", x, w[:, :, 0, 0]) + b[None, :, None, None]
    out = conv2d_forward_naive(x, w, b)
    assert_close(out, expected, "conv2d_forward_naive(x (2, 3, 4, 5), 1x1 kernel) out")


@pytest.mark.phase1
def test_naive_keeps_float32():
    x, w, b = random_conv(np.random.default_rng(3), (1, 2, 5, 5), (2, 2, 3, 3), np.float32)
    assert conv2d_forward_naive(x, w, b).dtype == np.float32, "float32 in must give float32 out"


@pytest.mark.phase2
def test_im2col_hand_example():
    """x = 1..16 (4x4), 2x2 windows, stride 2: each column is one window, read row by row."""
    cols = im2col(TRACE_X, 2, 2, stride=2)
    expected = [[1, 3, 9, 11], [2, 4, 10, 12], [5, 7, 13, 15], [6, 8, 14, 16]]
    assert_close(cols, expected, "im2col(1..16, 2, 2, stride=2) cols")


@pytest.mark.phase2
def test_im2col_with_padding_reads_zeros():
    cols = im2col(np.ones((1, 1, 2, 2)), 2, 2, stride=1, padding=1)
    # 3x3 windows positions; the top-left window sees only x[0, 0] in its bottom-right tap.
    assert_close(cols[:, 0], [0, 0, 0, 1], "im2col(ones 2x2, 2, 2, padding=1) column 0")
    assert_close(cols[:, 4], [1, 1, 1, 1], "im2col(ones 2x2, 2, 2, padding=1) column 4")


@pytest.mark.phase2
@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CASES)
def test_im2col_layout(x_shape, w_shape, stride, padding):
    """Every entry: row r = c*kh*kw + i*kw + j; column k = n*Ho*Wo + oh*Wo + ow."""
    x = np.random.default_rng(4).standard_normal(x_shape)
    N, C, H, W = x_shape
    kh, kw = w_shape[2:]
    cols = im2col(x, kh, kw, stride=stride, padding=padding)
    Ho, Wo = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    call = f"im2col(x {x_shape}, {kh}, {kw}, stride={stride}, padding={padding})"
    assert cols.shape == (C * kh * kw, N * Ho * Wo), (
        f"{call}: expected shape {(C * kh * kw, N * Ho * Wo)}, got {cols.shape}")
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    for row, column, (n, c, h, w) in contract_entries(x_shape, kh, kw, stride, padding):
        assert cols[row, column] == xpad[n, c, h, w], (
            f"{call}: cols[{row}, {column}] must be x_padded[{n}, {c}, {h}, {w}] (row = "
            f"c*kh*kw + i*kw + j, column = n*Ho*Wo + oh*Wo + ow), got another value")


@pytest.mark.phase2
def test_conv2d_forward_guide_trace():
    out, _ = conv2d_forward(TRACE_X, TRACE_W, TRACE_B)
    assert_close(out, TRACE_OUT, "conv2d_forward(1..16, [[1, 2], [3, 4]]) out")


@pytest.mark.phase2
@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CASES)
def test_conv2d_forward_matches_naive(x_shape, w_shape, stride, padding):
    x, w, b = random_conv(np.random.default_rng(5), x_shape, w_shape)
    expected = needs(conv2d_forward_naive, x, w, b, stride=stride, padding=padding)
    out, _ = conv2d_forward(x, w, b, stride=stride, padding=padding)
    assert_close(out, expected, f"conv2d_forward(x {x_shape}, w {w_shape}, stride={stride}, "
                                f"padding={padding}) vs your conv2d_forward_naive")


@pytest.mark.phase2
def test_conv2d_forward_keeps_float32_and_input():
    x, w, b = random_conv(np.random.default_rng(6), (2, 3, 6, 6), (4, 3, 3, 3), np.float32)
    x_before = x.copy()
    out, _ = conv2d_forward(x, w, b, stride=2, padding=1)
    assert out.dtype == np.float32, "float32 in must give float32 out"
    assert np.array_equal(x, x_before), "conv2d_forward must not modify x"


@pytest.mark.phase3
def test_col2im_sums_overlaps():
    """Folding ones back counts how many 2x2 windows (stride 1) cover each pixel of a 3x3 image."""
    dx = col2im(np.ones((4, 4)), (1, 1, 3, 3), 2, 2, stride=1)
    assert_close(dx, [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]], "col2im(ones, 3x3 image, 2x2) dx")


@pytest.mark.phase3
def test_col2im_crops_padding():
    dx = col2im(np.ones((4, 9)), (1, 1, 2, 2), 2, 2, stride=1, padding=1)
    assert_close(dx, np.full((1, 1, 2, 2), 4.0), "col2im(ones, 2x2 image, 2x2, padding=1) dx")


@pytest.mark.phase3
@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CASES)
def test_col2im_adds_every_entry_back(x_shape, w_shape, stride, padding):
    """Every entry of cols is added to the pixel it was read from (the contract's layout, not
    your im2col's), and the padding is cropped."""
    kh, kw = w_shape[2:]
    N, C, H, W = x_shape
    entries = list(contract_entries(x_shape, kh, kw, stride, padding))
    u = np.random.default_rng(7).standard_normal((C * kh * kw, len(entries) // (C * kh * kw)))
    expected = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    for row, column, pixel in entries:
        expected[pixel] += u[row, column]
    dx = col2im(u, x_shape, kh, kw, stride=stride, padding=padding)
    assert_close(dx, expected[:, :, padding:padding + H, padding:padding + W],
                 f"col2im(u {u.shape}, x {x_shape}, {kh}, {kw}, stride={stride}, "
                 f"padding={padding}) dx")


@pytest.mark.phase3
def test_conv2d_backward_guide_trace():
    _, cache = needs(conv2d_forward, TRACE_X, TRACE_W, TRACE_B)
    dx, dw, db = conv2d_backward(np.ones((1, 1, 3, 3)), cache)
    assert_close(dw, TRACE_DW, "conv2d_backward(dL/dY = ones) dL/dW")
    assert_close(dx[0, 0, 1, 1], TRACE_DX_11, "conv2d_backward(dL/dY = ones) dL/dX[1, 1]")
    assert_close(db, [9.0], "conv2d_backward(dL/dY = ones) dL/db")


@pytest.mark.phase3
@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CASES)
def test_conv2d_backward_numerical_gradient(x_shape, w_shape, stride, padding):
    rng = np.random.default_rng(8)
    x, w, b = random_conv(rng, x_shape, w_shape)
    out, cache = needs(conv2d_forward, x, w, b, stride=stride, padding=padding)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)
    where = f"x {x_shape}, w {w_shape}, stride={stride}, padding={padding}"

    def out_of(x, w, b):
        return conv2d_forward(x, w, b, stride=stride, padding=padding)[0]

    assert_gradient(dx, numerical_gradient(lambda v: out_of(v, w, b), x, dout), f"dx ({where})")
    assert_gradient(dw, numerical_gradient(lambda v: out_of(x, v, b), w, dout), f"dw ({where})")
    assert_gradient(db, numerical_gradient(lambda v: out_of(x, w, v), b, dout), f"db ({where})")
