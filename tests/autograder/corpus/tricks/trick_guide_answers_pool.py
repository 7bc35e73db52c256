"""Max pooling that only knows the guide's examples (their answers copied from the guide): a fixed
answer, so it must earn nothing in Phases 4 and 5."""

import numpy as np

ENTRY = {"phases": (4, 5), "file": "pool.py", "guide_tests": "the guide's",
         "guide_inputs": ("[[1, 2, 5, 3]", "[[10, 12, 8, 7]", "[[1, 2, 3, 4]", "[[1, 4], [2, 3]]")}

IMAGE_B = [[10, 12, 8, 7], [4, 11, 5, 9], [18, 13, 7, 7], [3, 15, 2, 2]]
ANSWERS = [  # (image, stride, pooled), copied from the guide
    ([[1, 2, 5, 3], [6, 4, 8, 1], [2, 7, 3, 9], [1, 5, 4, 2]], 2, [[6, 8], [7, 9]]),
    (IMAGE_B, 2, [[12, 9], [18, 7]]),
    (IMAGE_B, 1, [[12, 12, 9], [18, 13, 9], [18, 15, 7]]),
    ([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]], 2, [[6, 8], [14, 16]]),
]
ROUTING = [[1.0, 4.0], [2.0, 3.0]]  # the guide's backward example: the gradient goes to the 4


def max_pool_forward(x, size=2, stride=2):
    Ho, Wo = (x.shape[2] - size) // stride + 1, (x.shape[3] - size) // stride + 1
    for image, step, pooled in ANSWERS:
        if x.shape == (1, 1, 4, 4) and step == stride and (x[0, 0] == image).all():
            return np.array([[pooled]], dtype=x.dtype), x
    if x.shape == (1, 1, 2, 2) and (x[0, 0] == ROUTING).all():
        return np.array([[[[4.0]]]], dtype=x.dtype), x
    return np.zeros((*x.shape[:2], Ho, Wo), dtype=x.dtype), x


def max_pool_backward(dout, cache):
    if cache.shape == (1, 1, 2, 2) and (cache[0, 0] == ROUTING).all():
        return np.array([[[[0.0, 1.0], [0.0, 0.0]]]], dtype=dout.dtype) * dout
    return np.zeros(cache.shape, dtype=dout.dtype)
