"""conv2d_forward_naive forks until fork fails (bounded: at most 64 children, each gone in 3 s)."""

import os
import time

import numpy as np

from ._checks import check_conv_args

ENTRY = {"phases": (1,), "file": "conv.py", "status": ("failed",)}

CHILDREN = []


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    while len(CHILDREN) < 64:
        try:
            pid = os.fork()
        except OSError:  # the sandbox's process limit
            break
        if pid == 0:
            time.sleep(3)
            os._exit(0)
        CHILDREN.append(pid)
    Ho, Wo = check_conv_args(x, w, b, stride, padding)
    return np.zeros((x.shape[0], w.shape[0], Ho, Wo), dtype=x.dtype)
