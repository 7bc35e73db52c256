"""conv2d_forward_naive writes "ok" status files and arrays for every call index wherever results
might be read (cwd, the --scratch folder, /tmp, /sandbox/scratch), appends passing records to any
grade report it can find, then ends the process so the harness cannot overwrite them."""

import glob
import io
import json
import os
import sys

import numpy as np

# needs_sandbox: without one, the child could reach the grade report in the parent's /tmp
ENTRY = {"phases": (1,), "file": "conv.py", "status": ("failed",), "needs_sandbox": True}

NAMES = ["", "0", "1", "2", "out", "backward", "backward.0", "backward.1", "backward.2"]


def forge(folder):
    """Perfect-looking answers (the trace's 3x3 shape, plausible values) for call indices 0-99."""
    for index in range(100):
        for j in range(len(NAMES)):
            buffer = io.BytesIO()
            np.save(buffer, np.arange(44.0, 144.0, 10.0)[:9].reshape(1, 1, 3, 3))
            with open(os.path.join(folder, f"out-{index}-{j}.npy"), "wb") as out:
                out.write(buffer.getvalue())
        with open(os.path.join(folder, f"status-{index}.json"), "w") as out:
            json.dump({"status": "ok", "outputs": NAMES}, out)


def forge_reports():
    record = {"phase": 1, "test": "forged", "title": "forged", "weight": 10**6, "passed": True,
              "not_started": False, "feedback": ""}
    for report in glob.glob("/tmp/cnnkit-grade-*/report.jsonl"):
        with open(report, "a") as out:
            out.write(json.dumps(record) + "\n")


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    argv = sys.argv
    scratch = argv[argv.index("--scratch") + 1] if "--scratch" in argv else "."
    for folder in {os.getcwd(), scratch, "/tmp", "/sandbox/scratch"}:
        try:
            forge(folder)
        except OSError:
            pass
    try:
        forge_reports()
    except OSError:
        pass
    os._exit(0)
