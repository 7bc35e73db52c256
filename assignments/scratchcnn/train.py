"""Training (Phase 9): minibatch SGD over the whole training set, and evaluation.

    model = build_guide_cnn(rng=0)
    optimizer = SGD(lr=0.05, momentum=0.9)
    for epoch in range(3):
        stats = train_epoch(model, optimizer, x_train, y_train, batch_size=64, rng=epoch)
        test_loss, test_acc = evaluate(model, x_test, y_test)

Images are float (N, 1, 28, 28) in [0, 1], float32 in `cnnkit train`; labels int (N,) in 0..9.

Phase 9, step by step:
1. Write train_epoch below (its docstring says what each step does); `pytest -m phase9` checks
   in seconds, on scikit-learn's 8x8 digits, that it learns.
2. Train the guide's CNN on all of MNIST with your whole package:

       cnnkit train --impl assignments           # add --limit 2000 --epochs 1 for a quick try

   It shows your network layer by layer, a progress bar per epoch fed by your `on_batch`
   calls, the test accuracy after each epoch, and compares your CNN with a dense network
   trained the same way. The goal: 99% test accuracy (about 3 epochs; SGD with momentum 0.9,
   learning rate 0.05 decayed by a cosine, batch 64). `cnnkit evaluate runs/cnn-seed0/model.npz`
   re-tests the saved model.
3. `cnnkit train` calls your train_epoch with a stand-in for the model that splits each batch
   over the CPU cores; it behaves like your CNN (forward, backward, params, grads), so write
   train_epoch for any such model and it will simply run faster there.

Rules the grader enforces: train_epoch never modifies x or y (shuffle an order of indices, not
the data), feeds the model each example once per epoch, sets optimizer.lr = lr_schedule(step)
before each step when a schedule is given, and calls on_batch after each step when given.
"""

import numpy as np

from .layers import softmax_cross_entropy


def train_epoch(model, optimizer, x, y, batch_size=64, rng=None, lr_schedule=None, on_batch=None):
    """Phase 9: one epoch of minibatch training.

    Shuffle the examples with `rng`, then for each minibatch of `batch_size` (the last one may be
    smaller): forward, softmax cross-entropy, backward, optimizer step.

    Args:
        model: a CNN (forward, backward, params, grads).
        optimizer: an SGD (step(params, grads); its `lr` attribute may be changed).
        x: (N, C, H, W) float images, float32 or float64 (the model's parameters are of the
            same dtype; the grader trains in float64, so don't convert x); y: (N,) labels.
        batch_size: examples per step.
        rng: seed or numpy Generator for the shuffle (same seed, same order).
        lr_schedule: optional callable, step index within the epoch (0-based) -> learning rate,
            applied to optimizer.lr before each step.
        on_batch: optional callable(loss, accuracy) called after each step (progress bars).
    Returns:
        dict with "loss" and "accuracy": means over the epoch's examples.
    """
    raise NotImplementedError('Phase 9 (training to 99% on MNIST): implement train_epoch in scratchcnn/train.py')


def evaluate(model, x, y, batch_size=1000):
    """Mean loss and accuracy of `model` on (x, y), in batches (no gradients).

    Returns:
        (loss, accuracy) as floats.
    """
    total_loss = total_correct = 0.0
    for start in range(0, len(x), batch_size):
        logits = model.forward(x[start:start + batch_size])
        loss, _ = softmax_cross_entropy(logits, y[start:start + batch_size])
        total_loss += loss * len(logits)
        total_correct += np.count_nonzero(logits.argmax(axis=1) == y[start:start + batch_size])
    return total_loss / len(x), total_correct / len(x)
