"""max_pool_forward steps by the window size, ignoring the stride (right only if stride == size)."""

from .pool import max_pool_forward as pool_with_stride

# dependent: its cache is for other windows than dout's, so the backward refuses dout
ENTRY = {"phase": 4, "file": "pool.py", "place": "max_pool_forward(",
         "diagnosis": "windows step by the window size, not by the stride",
         "dependent": (5,)}


def max_pool_forward(x, size=2, stride=2):
    return pool_with_stride(x, size, size)  # the bug: windows at oh*size, not oh*stride
