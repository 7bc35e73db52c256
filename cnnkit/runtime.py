"""Process-wide settings that make NumPy training faster; `cnnkit train` and `cnnkit bench` make
them (`cnnkit.train.fast_training`, `cnnkit.bench`), for NumPy and PyTorch alike.

- `keep_freed_memory`: a training step allocates and frees the same few-MB arrays (im2col's
  columns, activations, gradients) every time. glibc serves blocks that large with mmap and
  gives them back to the kernel when they are freed, so every step faults their pages in again
  (the kernel zeroes each one). Raising glibc's mmap and trim thresholds keeps blocks up to
  32 MiB in the heap for the next step: 10.46 ms per 64-image step instead of 11.27
  (benchmarks/README.md). Peak memory is unchanged (the heap holds what the busiest step needed).
- `denormals_flushed`: SGD's momentum buffers decay by 0.9 a step wherever the gradient is 0
  (a dense layer's weights from features that stay 0 after ReLU), down through the denormal
  floats below 1.2e-38, on which every arithmetic instruction takes a slow microcode path:
  by the second epoch a quarter of the first dense layer's buffer is denormal and SGD's step
  takes 1.8 ms instead of 0.3. With the CPU's flush-to-zero and denormals-are-zero modes such
  values count as 0, as deep-learning frameworks commonly arrange (PyTorch:
  `torch.set_flush_denormal(True)`). The values involved are below 1.2e-38; nothing a network
  computes with them changes visibly.
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Iterator
from contextlib import contextmanager

# From glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's largest on 64-bit systems (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 1024 * 1024 * 1024
# x86-64 glibc's fenv_t: the x87 environment (28 bytes), then the SSE control register MXCSR,
# whose flush-to-zero (bit 15) and denormals-are-zero (bit 6) bits make denormals count as 0.
FENV_WORDS, MXCSR_WORD, FTZ_DAZ = 8, 7, 0x8040


def glibc():
    """The C library, if it is glibc (None elsewhere: the settings then change nothing)."""
    return ctypes.CDLL(None) if platform.libc_ver()[0] == "glibc" else None


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks of up to 32 MiB for reuse; for the whole process and the
    processes it forks from now on. Returns whether it took effect."""
    libc = glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and \
        bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


@contextmanager
def denormals_flushed() -> Iterator[bool]:
    """Inside: denormal floats count as 0 (flush-to-zero and denormals-are-zero) in this thread
    and in the threads and processes it starts meanwhile (they inherit the floating-point
    environment); the environment as it was afterwards. Yields whether it took effect (x86-64
    with glibc; elsewhere nothing changes)."""
    libc = glibc()
    if libc is None or platform.machine().lower() not in ("x86_64", "amd64"):
        yield False
        return
    saved, flushing = (ctypes.c_uint32 * FENV_WORDS)(), (ctypes.c_uint32 * FENV_WORDS)()
    if libc.fegetenv(saved) != 0 or libc.fegetenv(flushing) != 0:
        yield False
        return
    flushing[MXCSR_WORD] |= FTZ_DAZ
    libc.fesetenv(flushing)
    try:
        yield True
    finally:
        libc.fesetenv(saved)
