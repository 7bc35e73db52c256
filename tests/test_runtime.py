"""cnnkit.runtime: the trainer's process-wide settings.

keep_freed_memory: a freed 20 MiB array stays in the process for reuse; without it (the
control), glibc gives it back to the kernel. Each case runs in a fresh process, whose malloc
settings nothing else has touched.

denormals_flushed: inside, denormal floats count as 0, in this thread and in threads started
meanwhile; outside (before, and after: restored), they are kept.
"""

import platform
import subprocess
import sys
import threading

import numpy as np
import pytest

from cnnkit.runtime import denormals_flushed

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")
x86_64 = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                            reason="the SSE control register (x86-64)")

RSS_AFTER_FREE = """
import numpy as np
from cnnkit.runtime import keep_freed_memory

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


DENORMAL = np.float32(np.finfo(np.float32).tiny / 4)  # 2.9e-39: below the normal floats


def product_with_one() -> np.float32:
    return (np.array([DENORMAL]) * np.float32(1.0))[0]


@glibc
@x86_64
def test_denormals_count_as_zero_inside_and_are_restored_after():
    assert product_with_one() == DENORMAL != 0
    with denormals_flushed() as flushing:
        assert flushing
        assert product_with_one() == 0
        started_inside = []
        thread = threading.Thread(target=lambda: started_inside.append(product_with_one()))
        thread.start()
        thread.join()
        assert started_inside == [0]
        assert np.float32(1e-30) * np.float32(1e-10) == 0  # a result below the normals: 0
    assert product_with_one() == DENORMAL


def test_normal_floats_are_untouched():
    with denormals_flushed():
        tiny = np.finfo(np.float32).tiny
        assert np.float32(tiny) * np.float32(1.0) == tiny
        np.testing.assert_array_equal(np.float32([1.5, -2.25]) * 2, [3.0, -4.5])
