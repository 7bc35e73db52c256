"""receptive_field returns a tuple of differently shaped items, (1, [2, 3]): a failed test for
the student (the suite stacked them with np.array once, a ValueError: a grader "error")."""

ENTRY = {"phases": (11,), "file": "model.py", "status": ("failed",),
         "feedback": "must return one number per layer"}


def receptive_field(layers):
    return (1, [2, 3])
