"""cnnkit.memory: with keep_freed_memory, a freed 20 MiB array stays in the process for reuse;
without it (the control), glibc gives it back to the kernel. Each case runs in a fresh process,
whose malloc settings nothing else has touched."""

import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")

RSS_AFTER_FREE = """
import numpy as np
from cnnkit.memory import keep_freed_memory

def resident_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20

kept = {keep} and keep_freed_memory()
block = np.ones(20 * 2**20 // 8)  # 20 MiB, every page written
before = resident_mib()
del block
print(kept, before - resident_mib())
"""


def freed_mib(keep: bool) -> tuple[str, float]:
    """(whether the setting took effect, MiB the process's resident memory shrank by when the
    20 MiB array was freed)."""
    out = subprocess.run([sys.executable, "-c", RSS_AFTER_FREE.format(keep=keep)],
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0], float(out[1])


@glibc
def test_freed_memory_stays_for_reuse():
    kept, freed = freed_mib(keep=True)
    assert kept == "True"
    assert freed < 1


@glibc
def test_without_it_glibc_returns_the_block():  # the control: the check above can fail
    kept, freed = freed_mib(keep=False)
    assert kept == "False"
    assert freed > 19
