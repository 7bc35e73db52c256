"""conv.py calls sys.exit(0) at import; pool.py is the reference (its phase must not suffer)."""

import sys

# status: its stub is still there, but what the student must see is the exit at import
ENTRY = {"phases": (1, 4), "file": "conv.py", "reference_files": ("pool.py",), "full_marks": (4,),
         "status": ("failed",), "feedback": "raised SystemExit"}

sys.exit(0)
