"""max_pool_forward always returns float64, whatever the input's dtype."""

import numpy as np

from .pool import max_pool_forward as pool_in_input_dtype

ENTRY = {"phase": 4, "file": "pool.py", "place": "max_pool_forward(",
         "diagnosis": "expected dtype float32 (the input's), got float64"}


def max_pool_forward(x, size=2, stride=2):
    out, cache = pool_in_input_dtype(x, size, stride)
    return out.astype(np.float64), cache  # the bug: out = np.zeros((N, C, Ho, Wo)), float64
