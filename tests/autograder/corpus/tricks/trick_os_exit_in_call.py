"""conv2d_forward_naive ends the whole process with os._exit(0) (no exception to catch)."""

import os

ENTRY = {"phases": (1,), "file": "conv.py", "status": ("failed",),
         "feedback": "your code was stopped"}


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    os._exit(0)
