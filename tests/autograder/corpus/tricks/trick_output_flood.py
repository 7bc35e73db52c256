"""The reference's conv2d_forward_naive, after flooding stdout and stderr with 32 MiB each."""

import sys

from .conv import conv2d_forward_naive as honest_forward

ENTRY = {"phases": (1,), "file": "conv.py", "reference_files": ("conv.py",), "full_marks": (1,)}

FLOODED = []


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    if not FLOODED:
        for stream in (sys.stdout, sys.stderr):
            for _ in range(512):
                stream.write("x" * 65536)
            stream.flush()
        FLOODED.append(True)
    return honest_forward(x, w, b, stride, padding)
