"""global_avg_pool_backward broadcasts dout to every position without dividing by H*W."""

import numpy as np

ENTRY = {"phase": 10, "file": "pool.py", "place": "global_avg_pool_backward(",
         "diagnosis": "the gradient is not divided by H*W"}


def global_avg_pool_backward(dout, cache):
    return np.broadcast_to(dout[:, :, None, None], cache).copy()  # the bug: / (H * W)
