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
