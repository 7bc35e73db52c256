"""`cnnkit compare train_epoch`: the student's train_epoch replayed through the reference.

As Phase 9's grader does: the student's train_epoch trains a small CNN (their classes, their
SGD) for one epoch on a small random set; the batches it feeds the model are recorded and
replayed through the reference from the same initialisation, with the learning rate the
schedule gives at each step. Their parameters after the epoch, the loss and accuracy they
report, and their calls of on_batch and lr_schedule must match.
"""

from __future__ import annotations

import numpy as np

from .compare_cases import small_cnn

IMAGES, BATCH = 40, 16  # three steps, the last one smaller


class Recording:
    """A model that records the batches it is given, and otherwise is `model`."""

    def __init__(self, model):
        self.model, self.batches = model, []

    def forward(self, x):
        self.batches.append(np.array(x))
        return self.model.forward(x)

    def backward(self, dout):
        return self.model.backward(dout)

    def __getattr__(self, name):
        return getattr(self.model, name)


def train_cases(rng):
    yield {"x": rng.standard_normal((IMAGES, 2, 6, 6)).astype(np.float32),
           "y": rng.integers(0, 4, IMAGES), "batch_size": BATCH, "rng": 0,
           "note": "lr 0.1 * 0.5**step, momentum 0.9"}


def schedule(step: int) -> float:
    return 0.1 * 0.5 ** step


def student_epoch(s, a) -> tuple[dict, list[np.ndarray], dict]:
    """Run the student's train_epoch; (outputs, batches fed to forward, calls made)."""
    model = Recording(small_cnn(s))
    calls = {"on_batch": 0, "lr_schedule": 0}

    def lr_schedule(step):
        calls["lr_schedule"] += 1
        return schedule(step)

    def on_batch(loss, accuracy):
        calls["on_batch"] += 1

    stats = s.train.train_epoch(model, s.model.SGD(lr=1.0, momentum=0.9), a["x"], a["y"],
                                batch_size=a["batch_size"], rng=a["rng"],
                                lr_schedule=lr_schedule, on_batch=on_batch)
    outputs = {"returned loss": np.asarray(stats["loss"]),
               "returned accuracy": np.asarray(stats["accuracy"]),
               **{f"params['{k}']": v for k, v in sorted(model.model.params.items())}}
    return outputs, model.batches, calls


def replay(reference, batches: list[np.ndarray], a) -> dict:
    """The reference trained on `batches` (rows of a["x"]), lr from the schedule per step."""
    rows = {row.tobytes(): i for i, row in enumerate(a["x"])}
    model = small_cnn(reference)
    optimizer = reference.model.SGD(lr=1.0, momentum=0.9)
    total_loss = correct = 0.0
    for step, batch in enumerate(batches):
        labels = a["y"][[rows[row.tobytes()] for row in batch]]
        optimizer.lr = schedule(step)
        logits = model.forward(batch)
        loss, dlogits = reference.layers.softmax_cross_entropy(logits, labels)
        model.backward(dlogits)
        optimizer.step(model.params, model.grads)
        total_loss += loss * len(batch)
        correct += np.count_nonzero(logits.argmax(axis=1) == labels)
    seen = sum(len(batch) for batch in batches) or 1
    return {"returned loss": np.asarray(total_loss / seen),
            "returned accuracy": np.asarray(correct / seen),
            **{f"params['{k}']": v for k, v in sorted(model.params.items())}}


def compare_epoch(yours, reference, a) -> tuple[dict, dict] | str:
    """(your outputs, the reference's replay of your batches), or what is wrong with the
    batches or calls in words."""
    got, batches, calls = student_epoch(yours, a)
    rows = {row.tobytes() for row in a["x"]}
    fed = [row for batch in batches for row in batch]
    if any(row.tobytes() not in rows for row in fed):
        return "your train_epoch fed the model images that are not rows of x"
    if sorted(r.tobytes() for r in fed) != sorted(r.tobytes() for r in a["x"]):
        return (f"your train_epoch fed the model {len(fed)} images; one epoch is each of the "
                f"{len(a['x'])} images once")
    steps = len(batches)
    for name, count in calls.items():
        if count != steps:
            return f"your train_epoch called {name} {count} times in {steps} steps (once a step)"
    return got, replay(reference, batches, a)
