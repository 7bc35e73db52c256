"""max_pool_forward starts each window's running maximum at 0, so an all-negative window gives 0
(every input drawn from small non-negative integers hid it)."""

import numpy as np

# dependent: Phase 5 makes its cache with this forward
ENTRY = {"phase": 4, "file": "pool.py", "place": "all-negative",
         "diagnosis": "the running maximum starts at 0", "dependent": (5,)}


def max_pool_forward(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)  # the bug: the maximum starts at 0
    for i in range(size):
        for j in range(size):
            np.maximum(out, x[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride], out=out)
    return out, (x, size, stride)
