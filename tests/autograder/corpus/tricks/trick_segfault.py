"""conv2d_forward_naive dereferences a null pointer with ctypes (SIGSEGV)."""

import ctypes

ENTRY = {"phases": (1,), "file": "conv.py", "status": ("failed",),
         "feedback": "your code was stopped"}


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    return ctypes.string_at(0)
