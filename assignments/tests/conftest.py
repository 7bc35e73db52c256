"""Public tests of scratchcnn, phase by phase: `pytest -m phase3` runs Phase 3's.

The implementation under test is the `scratchcnn` package beside this folder, or the one in the
folder named by the environment variable SCRATCHCNN_IMPL (how `cnnkit check --impl` points the
tests at another implementation).
"""

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMPL = Path(os.environ.get("SCRATCHCNN_IMPL", HERE.parent)).resolve()
sys.path.insert(0, str(IMPL))


def load_phases():
    """The phases table: phases.json in a release; the kit's own table beside the reference."""
    table = HERE.parent / "phases.json"
    if table.is_file():
        return json.loads(table.read_text())
    from cnnkit.release import phases_json
    return json.loads(phases_json())


def pytest_configure(config):
    for p in load_phases():
        config.addinivalue_line("markers", f"{p['marker']}: Phase {p['phase']}, {p['title']}")


def pytest_report_header(config):
    import scratchcnn
    return f"scratchcnn under test: {Path(scratchcnn.__file__).parent}"
