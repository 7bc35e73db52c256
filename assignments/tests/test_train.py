"""Public test of scratchcnn/train.py: Phase 9 (the training loop), on scikit-learn's digits.

The milestone itself, 99% on MNIST, is `cnnkit train --impl assignments`; this test only checks,
in seconds, that your train_epoch learns.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from scratchcnn.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from scratchcnn.model import CNN, SGD
from scratchcnn.train import evaluate, train_epoch


@pytest.mark.phase9
def test_train_epoch_learns_digits():
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    y = digits.target
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:1500], order[1500:]
    model = CNN([Conv2D(1, 8, 3, padding=1, rng=0), ReLU(), MaxPool2D(2, 2), Flatten(),
                 Dense(8 * 4 * 4, 10, rng=1)])
    optimizer = SGD(lr=0.05, momentum=0.9)
    first = train_epoch(model, optimizer, x[train], y[train], batch_size=32, rng=0)
    for epoch in range(1, 4):
        last = train_epoch(model, optimizer, x[train], y[train], batch_size=32, rng=epoch)
    assert last["loss"] < first["loss"], (
        f"train_epoch: the training loss must fall (epoch 1: {first['loss']:.3f}, "
        f"epoch 4: {last['loss']:.3f})")
    _, accuracy = evaluate(model, x[test], y[test])
    assert accuracy > 0.9, f"after 4 epochs on digits: test accuracy {accuracy:.1%}, needs > 90%"


class FixedLogits:
    """A stand-in model whose logits are the images themselves (N, 10): each example's loss and
    correctness are known in advance; backward and the parameters do nothing."""

    params, grads = {}, {}

    def forward(self, x):
        return x.copy()

    def backward(self, dout):
        return None


class NoStep:
    lr = 0.1

    def step(self, params, grads):
        pass


@pytest.mark.phase9
def test_train_epoch_returns_the_mean_over_examples():
    """With batches of 4 over 10 examples (the last batch holds 2), the returned loss and
    accuracy are means over the 10 examples, not over the 3 batches."""
    logits = np.random.default_rng(0).standard_normal((10, 10)).astype(np.float32) * 3
    logits[8:, 0] = 50.0  # the short last batch: its loss and accuracy stand out
    y = np.array([0, 1, 2, 3, 4, 5, 6, 7, 0, 0])
    shifted = logits - logits.max(axis=1, keepdims=True)
    losses = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(10), y]
    stats = train_epoch(FixedLogits(), NoStep(), logits, y, batch_size=4, rng=0)
    assert stats["loss"] == pytest.approx(losses.mean(), rel=1e-4), (
        f"train_epoch returned loss {stats['loss']:.5f}; the mean over the 10 examples is "
        f"{losses.mean():.5f} (weight each batch's mean loss by its size)")
    accuracy = np.mean(logits.argmax(axis=1) == y)
    assert stats["accuracy"] == pytest.approx(accuracy), (
        f"train_epoch returned accuracy {stats['accuracy']:.3f}; the share of the 10 examples "
        f"predicted right is {accuracy:.3f}")
