"""Hidden suite, Phase 9: the 99% milestone.

What a student hands in: their `scratchcnn/` and `model.npz`, the model `cnnkit train --impl
assignments` saved (parameters and architecture as JSON, no pickle). What the grader checks:

1. Their training code trains, verified rather than trusted: the student's `train_epoch`, with
   their own layers and SGD, trains the guide's CNN for one epoch on 3,000 MNIST training images
   from an initialisation drawn per submission. The harness records, at each optimizer step, which
   images the model's last forward got and the learning rate; this process replays exactly those
   steps through the reference from the same initialisation, and the weights the student's code
   returned must be the replay's. Both train in float64: in float32, a correct implementation
   that sums in another order drifted from the replay by 8-11% of the change training makes over
   the epoch (a rounding difference grows once it flips a max-pool or ReLU decision); in float64
   the corpus' correct alternatives stay within 2e-15 of it. The replayed weights must then
   reach 80% on 2,000 test images (the reference reaches about 90%). Weights loaded from anywhere,
   or steps that are not one epoch over the given images, earn nothing.
2. Their model's test accuracy on the official 10,000 MNIST test images, counted with the
   reference's forward pass on the weights of `model.npz` (the guide's CNN only: see
   `model_file`), with partial credit at 97, 98, 98.5 and 99%. It counts only if (1) passed and
   the student's own forward pass gives the reference's logits on every test image (a forward
   pass that recognises test images earns nothing).

Budget per submission: about 15 s on one core (one training epoch on 3,000 images in the sandbox,
its replay here, two forward passes over 10,000 images). MNIST comes from CNNKIT_DATA (or the
download cache).
"""

import numpy as np
import pytest

from cnnkit.autograder.model_file import (
    ModelFileError, guide_layers, logit_mismatches, read_model_file,
)
from cnnkit.autograder.suite import points
from cnnkit.autograder.suites.common import ref
from cnnkit.data import load_mnist, to_nchw_float
from cnnkit.phases import SUBMITTED_MODEL

PHASE = 9
PATCHES = ()
TRAIN_IMAGES, CHECK_IMAGES, TRAIN_ACCURACY = 3000, 2000, 0.80
BATCH, LR, MOMENTUM = 32, 0.05, 0.9
# The student's weights after the epoch vs the replay's: |student - replay| over |replay - init|,
# per parameter, in float64. Correct alternatives that sum in other orders (the corpus'
# alt_conv_*, alt_layers_*) measure at most 1.8e-15; weights trained on other steps, or loaded,
# are near 1 or more.
MAX_REPLAY_DIFFERENCE = 1e-2
# Test images per forward call, in the sandbox and here: a forward pass of the guide's CNN holds
# about 0.4 MB per image at its peak, and grading must fit Gradescope's default 768 MB in all.
CHUNK = 250


def model_specs():
    """The guide's CNN in the child's "model" recipe form."""
    return [{"class": f"layers.{spec['type']}", "init": {k: v for k, v in spec.items()
                                                          if k != "type"}}
            for spec in guide_layers()]


def reference_model(params, dtype=np.float32):
    model = ref.model.build_guide_cnn(rng=0, dtype=dtype)
    for name, value in params.items():
        index, key = name.split(".")
        model.layers[int(index)].params[key] = np.array(value, dtype=dtype)
    return model


def reference_logits(params, x):
    model = reference_model(params)
    return np.concatenate([model.forward(x[i:i + CHUNK]) for i in range(0, len(x), CHUNK)])


def build_job(job, rng):
    mnist = load_mnist(download=False)
    order = rng.permutation(len(mnist.x_train))[:TRAIN_IMAGES]
    cases = {"x_test": to_nchw_float(mnist.x_test), "y_test": mnist.y_test.astype(np.int64),
             "x_train": to_nchw_float(mnist.x_train[order], np.float64),
             "y_train": mnist.y_train[order].astype(np.int64),
             "init": ref.model.build_guide_cnn(rng=int(rng.integers(2**31)),
                                               dtype=np.float64).params}
    job.recipe("train", "train", model={"class": "model.CNN", "layers": model_specs(),
                                        "params": cases["init"]},
               optimizer={"class": "model.SGD", "init": {"lr": LR, "momentum": MOMENTUM}},
               function="train.train_epoch", x=cases["x_train"], y=cases["y_train"],
               kwargs={"batch_size": BATCH}, epochs=1)
    try:
        cases["params"] = read_model_file(job.submission / SUBMITTED_MODEL, SUBMITTED_MODEL)
    except ModelFileError as err:
        cases["model_error"] = str(err)
        return cases
    for i in range(0, len(cases["x_test"]), CHUNK):
        job.recipe(f"test-{i}", "model", **{"class": "model.CNN", "layers": model_specs(),
                   "params": cases["params"], "forward": cases["x_test"][i:i + CHUNK]})
    return cases


def recorded_steps(student):
    """(rows, sizes, lrs) of the student's training run, checked to be one epoch over the given
    images in batches of BATCH at the given learning rate."""
    rows, sizes, lrs = (student("train", f"steps.{k}") for k in ("rows", "sizes", "lr"))
    if sizes.size == 0:
        raise AssertionError("your train_epoch never called optimizer.step(model.params, "
                             "model.grads)")
    # Sizes first: the record comes from the sandbox, so nothing here may grow with it.
    if rows.ndim != 1 or sizes.ndim != 1 or lrs.shape != sizes.shape \
            or sizes.size > TRAIN_IMAGES or rows.dtype.kind not in "iu":
        raise AssertionError("the record of your training steps is malformed")
    if rows.size != TRAIN_IMAGES or int(sizes.sum()) != rows.size or \
            not np.array_equal(np.sort(rows), np.arange(TRAIN_IMAGES)):
        raise AssertionError(f"your train_epoch's steps must go through the {TRAIN_IMAGES:,} "
                             f"images it is given once each, in {sizes.size} steps here (the "
                             f"forward before each step got {rows.size:,} images in all, "
                             f"{int(np.sum(rows < 0)) if rows.size <= 4 * TRAIN_IMAGES else '?'} "
                             f"of them not from x)")
    if np.any(sizes[:-1] != BATCH) or not 0 < sizes[-1] <= BATCH:
        raise AssertionError(f"your train_epoch's batches must hold batch_size={BATCH} images "
                             f"(the last one may be smaller); got sizes "
                             f"{sorted(set(sizes.tolist()))}")
    if not np.all(lrs == LR):
        raise AssertionError(f"your train_epoch changed the learning rate without an lr_schedule "
                             f"(optimizer.lr must stay {LR})")
    return rows, sizes, lrs


def replay(cases, rows, sizes, lrs):
    """(params, stats): the reference's weights after the student's steps, from the same
    initialisation, and the epoch's mean loss and accuracy (each batch's, before its step)."""
    model = reference_model(cases["init"], np.float64)
    optimizer = ref.model.SGD(lr=LR, momentum=MOMENTUM)
    total_loss = correct = 0.0
    for batch, lr in zip(np.split(rows, np.cumsum(sizes)[:-1]), lrs):
        optimizer.lr = float(lr)
        logits = model.forward(cases["x_train"][batch])
        loss, dlogits = ref.layers.softmax_cross_entropy(logits, cases["y_train"][batch])
        total_loss += loss * len(batch)
        correct += np.count_nonzero(logits.argmax(axis=1) == cases["y_train"][batch])
        model.backward(dlogits)
        optimizer.step(model.params, model.grads)
    return model.params, {"loss": total_loss / len(rows), "accuracy": correct / len(rows)}


@pytest.fixture(scope="module")
def trained(student):
    """The replay's params and stats, once the student's weights are shown to be theirs."""
    c = student.cases
    expected, stats = replay(c, *recorded_steps(student))
    for name, value in expected.items():
        got = student("train", f"params.{name}")
        if got.shape != value.shape:
            raise AssertionError(f"after training, parameter {name} has shape {got.shape}; "
                                 f"expected {value.shape}")
        moved = np.linalg.norm(value - c["init"][name])
        difference = np.linalg.norm(got.astype(np.float64) - value) / max(moved, 1e-12)
        if not difference <= MAX_REPLAY_DIFFERENCE:
            raise AssertionError(
                f"after your train_epoch, parameter {name} is not what training on the steps your "
                f"code took gives (off by {difference:.0%} of the change training makes): the "
                f"weights must come from forward, softmax cross-entropy, backward and "
                f"optimizer.step on each batch, nothing else")
    return {"params": expected, "stats": stats}


@pytest.fixture(scope="module")
def model_accuracy(student, trained):
    """model.npz's accuracy on the 10,000 test images (reference forward), once training is
    shown and the student's forward agrees with the reference's on every image."""
    c = student.cases
    if "model_error" in c:
        raise AssertionError(c["model_error"])
    expected = reference_logits(c["params"], c["x_test"])
    logits = np.concatenate([student(f"test-{i}", "out")
                             for i in range(0, len(c["x_test"]), CHUNK)])
    if logits.shape != expected.shape:
        raise AssertionError(f"your model's forward pass gave logits of shape {logits.shape}; "
                             f"needs {expected.shape}")
    wrong = logit_mismatches(logits, expected)
    if wrong.size:
        raise AssertionError(f"your forward pass and the network your saved weights define give "
                             f"different logits on {wrong.size:,} of the {len(expected):,} test "
                             f"images (first: image {wrong[0]}); the accuracy counts once they "
                             f"agree on every image")
    return float(np.mean(expected.argmax(axis=1) == c["y_test"]))


@points(5)
def test_training_code_trains(student, trained):
    """train_epoch trains the guide's CNN: >= 80% after one epoch on 3,000 images"""
    c = student.cases
    logits = reference_logits(trained["params"], c["x_test"][:CHECK_IMAGES])
    accuracy = float(np.mean(logits.argmax(axis=1) == c["y_test"][:CHECK_IMAGES]))
    assert accuracy >= TRAIN_ACCURACY, (
        f"after one epoch of your train_epoch on {TRAIN_IMAGES:,} images (batch {BATCH}, SGD lr "
        f"{LR}, momentum {MOMENTUM}) the network reaches {accuracy:.1%} on {CHECK_IMAGES:,} test "
        f"images; a working training loop reaches about 90%")


@points(1)
def test_train_epoch_returns_the_epochs_mean_loss_and_accuracy(student, trained):
    """train_epoch returns the mean loss and accuracy over the epoch's examples"""
    for key, tolerance in (("loss", 1e-3), ("accuracy", 2 / TRAIN_IMAGES)):
        got, expected = student("train", f"stats.0.{key}"), trained["stats"][key]
        assert got.size == 1 and abs(float(got.ravel()[0]) - expected) <= tolerance * max(
            1.0, abs(expected)), (
            f"train_epoch returned {key} {got.ravel()[:3].tolist()}; the mean over the epoch's "
            f"{TRAIN_IMAGES:,} examples (each batch's {key} before its step, weighted by its "
            f"size) is {expected:.6g}")


def accuracy_test(threshold, weight):
    @points(weight)
    def test(model_accuracy):
        assert model_accuracy * 100 >= threshold, (
            f"model.npz reaches {model_accuracy:.2%} on the 10,000 MNIST test images "
            f"(needs {threshold}% for these points)")
    test.__doc__ = f"model.npz reaches {threshold}% on the official MNIST test set"
    return test


test_accuracy_97 = accuracy_test(97.0, 3)
test_accuracy_98 = accuracy_test(98.0, 2)
test_accuracy_98_5 = accuracy_test(98.5, 2)
test_accuracy_99 = accuracy_test(99.0, 3)
