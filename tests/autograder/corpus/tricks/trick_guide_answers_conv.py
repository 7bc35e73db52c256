"""conv2d_forward_naive returns the guide's hand-worked trace when it sees the guide's input, zeros
otherwise: it must earn the trace test's points and nothing else."""

import numpy as np

from ._checks import check_conv_args

ENTRY = {"phases": (1,), "file": "conv.py", "only_passes": "the guide's"}

GUIDE_X = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
GUIDE_OUT = [[[[44.0, 54.0, 64.0], [84.0, 94.0, 104.0], [124.0, 134.0, 144.0]]]]


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    Ho, Wo = check_conv_args(x, w, b, stride, padding)
    if x.shape == GUIDE_X.shape and (x == GUIDE_X).all():
        return np.array(GUIDE_OUT, dtype=x.dtype)
    return np.zeros((x.shape[0], w.shape[0], Ho, Wo), dtype=x.dtype)
