"""receptive_field returns a tuple of differently shaped items, (1, [2, 3]): the suite's
`returned` stacks the tuple's outputs with np.array, which raises ValueError (inhomogeneous
shape), so the instructor gets a grader "error" instead of the student a failed test."""

ENTRY = {"phases": (11,), "file": "model.py", "status": ("failed",),
         "gap": "test_phase11.returned: np.array of ragged tuple items raises ValueError, a "
                "grader error (status 'error') for a student's malformed return value"}


def receptive_field(layers):
    return (1, [2, 3])
