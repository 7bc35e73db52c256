"""Keep freed memory in the process for reuse (glibc), so that training steps stop paying the
kernel for fresh pages.

A training step allocates and frees the same few-MB arrays (im2col's columns, activations,
gradients) every time. glibc serves blocks that large with mmap and gives them back to the kernel
with munmap when they are freed, so every step faults its pages in again (the kernel zeroes each
one). `keep_freed_memory` raises glibc's mmap and trim thresholds: blocks up to 32 MiB come from
the heap and freed ones stay there, to be reused by the next step. Measured on a 2-core VM:
10.0-10.1 ms per 64-image training step instead of 11.4-11.6 (benchmarks/README.md). Peak memory
is unchanged (the heap holds what the busiest step needed).
"""

from __future__ import annotations

import ctypes
import platform

# From glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's largest on 64-bit systems (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 1024 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks of up to 32 MiB for reuse; for the whole process and the
    processes it forks from now on. Returns whether it took effect (False where the C library
    is not glibc: nothing changes there)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and \
        bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
