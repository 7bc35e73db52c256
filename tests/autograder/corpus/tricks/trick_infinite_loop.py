"""conv2d_forward_naive spins forever; pool.py is the reference (its phase must not suffer)."""

# job_seconds: wall clock and CPU limit of each phase's job: whichever stops the loop first
ENTRY = {"phases": (1, 4), "file": "conv.py", "reference_files": ("pool.py",), "full_marks": (4,),
         "job_seconds": 5, "status": ("timeout", "failed"), "feedback": "your code was stopped"}


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    spins = 0
    while True:
        spins += 1
