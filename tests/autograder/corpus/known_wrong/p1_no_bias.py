"""conv2d_forward_naive never adds the bias."""

import numpy as np

from ._checks import check_conv_args

ENTRY = {"phase": 1, "file": "conv.py", "place": "conv2d_forward_naive(",
         "diagnosis": "the bias is not added"}


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    Ho, Wo = check_conv_args(x, w, b, stride, padding)
    F, _, kh, kw = w.shape
    p = padding
    xpad = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)])
    out = np.zeros((x.shape[0], F, Ho, Wo), dtype=x.dtype)
    for n, f, oh, ow in np.ndindex(out.shape):
        r, c = oh * stride, ow * stride
        out[n, f, oh, ow] = (xpad[n, :, r:r + kh, c:c + kw] * w[f]).sum()  # the bug: + b[f]
    return out
