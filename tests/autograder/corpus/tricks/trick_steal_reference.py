"""Looks for the kit's reference and hidden suites (absolute paths, paths relative to the
submission and the working folder, the grader's support file, the cnnkit package) and returns
the reference's answers if it can load any; zeros otherwise."""

import importlib
import importlib.util
import os
import runpy
import sys

import numpy as np

from ._checks import check_conv_args

# needs_sandbox: without one, the kit's files are readable
ENTRY = {"phases": (1, 3), "file": "conv.py", "status": ("failed",), "needs_sandbox": True}

HERE = os.path.dirname(os.path.abspath(__file__))
GUESSES = ["/work/main/solutions/scratchcnn", "/work/main/autograder/suites/common.py",
           os.path.join(HERE, "..", "..", "solutions", "scratchcnn"),
           os.path.join(HERE, "..", "..", "..", "solutions", "scratchcnn"),
           os.path.join(os.getcwd(), "..", "..", "solutions", "scratchcnn"),
           "../solutions/scratchcnn", "/sandbox/support/support.py"]


def load(path):
    """A module with the reference's functions from `path`, or None."""
    if path.endswith("common.py"):
        return runpy.run_path(path)["ref"].conv
    if path.endswith(".py"):
        return runpy.run_path(path, run_name="stolen_support")
    spec = importlib.util.spec_from_file_location(
        "stolen", os.path.join(path, "__init__.py"), submodule_search_locations=[path])
    sys.modules["stolen"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules["stolen"])
    return importlib.import_module("stolen.conv")


def stolen(name):
    for path in GUESSES:
        try:
            found = load(path)
            return found[name] if isinstance(found, dict) else getattr(found, name)
        except Exception:
            continue
    try:
        return getattr(importlib.import_module("cnnkit.autograder.suites.common").ref.conv, name)
    except Exception:
        return None


def answer(name, fallback, *args, **kwargs):
    """The stolen function's answer, or `fallback` if nothing could be stolen or it is a stub."""
    try:
        return stolen(name)(*args, **kwargs)
    except Exception:
        return fallback


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    Ho, Wo = check_conv_args(x, w, b, stride, padding)
    zeros = np.zeros((x.shape[0], w.shape[0], Ho, Wo), dtype=x.dtype)
    return answer("conv2d_forward_naive", zeros, x, w, b, stride, padding)


def conv2d_forward(x, w, b, stride=1, padding=0):
    return answer("conv2d_forward", (conv2d_forward_naive(x, w, b, stride, padding), x.shape),
                  x, w, b, stride, padding)


def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    return answer("col2im", np.zeros(x_shape, dtype=cols.dtype), cols, x_shape, kh, kw, stride,
                  padding)


def conv2d_backward(dout, cache):
    N, F, Ho, Wo = dout.shape
    fallback = (np.zeros((N, 1, 1, 1)), np.zeros((F, 1, 1, 1)), np.zeros(F))
    return answer("conv2d_backward", fallback, dout, cache)

