"""max_pool_forward loops with the window size as its step: overlapping windows run off x, and it
raises."""

import numpy as np

# place: the line that raised: the feedback names no function
# dependent: its cache (x, size, stride) is not the reference's
ENTRY = {"phase": 4, "file": "pool.py", "place": "= window.max(axis=(2, 3))", "diagnosis": None,
         "dependent": (5,)}


def max_pool_forward(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    for oh in range(Ho):
        for ow in range(Wo):
            window = x[:, :, oh * size:(oh + 1) * size, ow * size:(ow + 1) * size]  # the bug
            out[:, :, oh, ow] = window.max(axis=(2, 3))
    return out, (x, size, stride)
