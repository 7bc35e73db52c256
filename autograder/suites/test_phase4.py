"""Hidden suite, Phase 4: max_pool_forward."""

import numpy as np

from cnnkit.autograder.suite import expect_close, expect_unmodified, points
from cnnkit.autograder.suites.common import pool_cases, pool_forward_mistakes, ref

PHASE = 4
PATCHES = ()

GUIDE = {  # the guide's 4x4 examples: (image, stride)
    "guide-a": ([[1, 2, 5, 3], [6, 4, 8, 1], [2, 7, 3, 9], [1, 5, 4, 2]], 2),
    "guide-b-stride2": ([[10, 12, 8, 7], [4, 11, 5, 9], [18, 13, 7, 7], [3, 15, 2, 2]], 2),
    "guide-b-stride1": ([[10, 12, 8, 7], [4, 11, 5, 9], [18, 13, 7, 7], [3, 15, 2, 2]], 1),
    "1-to-16": (np.arange(1, 17).reshape(4, 4).tolist(), 2),
}


def build_job(job, rng):
    cases = {"f64": pool_cases(rng), "f32": pool_cases(rng, np.float32)}
    for name, (rows, stride) in GUIDE.items():
        job.call(name, "pool.max_pool_forward", np.array(rows, float)[None, None], size=2,
                 stride=stride, select=[0])
    for kind, group in cases.items():
        for i, case in enumerate(group):
            job.call(f"{kind}-{i}", "pool.max_pool_forward", case.x, **case.kwargs, select=[0],
                     after=(0,))
    return cases


def check(student, kind, select):
    for i, case in enumerate(student.cases[kind]):
        if select(case):
            expected, _ = ref.pool.max_pool_forward(case.x, **case.kwargs)
            expect_close(student(f"{kind}-{i}", "0"), expected, f"max_pool_forward({case}) out",
                         atol=0, rtol=0, dtype=case.x.dtype, mistakes=pool_forward_mistakes(case))


@points(2)
def test_guide_examples(student):
    """the guide's 4x4 examples, stride 2 and stride 1, and random inputs with those windows"""
    for name, (rows, stride) in GUIDE.items():
        expected, _ = ref.pool.max_pool_forward(np.array(rows, float)[None, None], 2, stride)
        expect_close(student(name, "0"), expected, f"max_pool_forward({rows}, size=2, "
                                                   f"stride={stride}) out")
    test_non_overlapping_windows(student)  # no points for fixed answers to the guide's inputs
    test_overlapping_windows(student)


@points(2)
def test_non_overlapping_windows(student):
    """windows that don't overlap (stride = size), N > 1 and C > 1, ties"""
    check(student, "f64", lambda c: c.stride == c.size)


@points(2)
def test_overlapping_windows(student):
    """overlapping windows (stride < size)"""
    check(student, "f64", lambda c: c.stride < c.size)


@points(1)
def test_gapped_windows(student):
    """windows with gaps between them (stride > size)"""
    check(student, "f64", lambda c: c.stride > c.size)


@points(1)
def test_inputs_not_modified(student):
    """x is left as it was"""
    test_non_overlapping_windows(student)  # no credit for leaving x alone without working
    for kind, group in student.cases.items():
        for i, case in enumerate(group):
            expect_unmodified(student, f"{kind}-{i}", (case.x,), f"max_pool_forward({case})")


@points(1)
def test_float32(student):
    """float32 in, float32 out"""
    check(student, "f32", lambda c: True)
