"""conv2d_forward_naive hoards 128 MiB blocks in a module-level list until memory runs out
(np.empty: the address-space limit stops it as soon as np.ones would, without filling 2 GiB)."""

import numpy as np

ENTRY = {"phases": (1,), "file": "conv.py", "status": ("failed",),
         "feedback": "raised MemoryError"}

HOARD = []


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    while True:  # never released: every later call fails at once
        HOARD.append(np.empty(2**24))
