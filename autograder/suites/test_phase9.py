"""Hidden suite, Phase 9: the 99% milestone.

What a student hands in: their `scratchcnn/` and `model.npz`, the model `cnnkit train --impl
assignments` saved (parameters and architecture as JSON, no pickle). What the grader recomputes:

1. Their training code trains: the student's `train_epoch`, with their own layers and SGD, trains
   the guide's CNN from a fixed initialisation for one epoch on 3,000 MNIST training images; the
   weights it returns must reach 80% on 2,000 test images, measured here with the reference's
   forward pass (the reference reaches about 91% on this run).
2. Their model's test accuracy, on the official 10,000 MNIST test images, through the student's
   own forward pass, with partial credit at 97, 98, 98.5 and 99%. It counts only if (1) passed, so
   weights trained elsewhere with a stub training loop earn nothing, and only if the reference's
   forward pass on the same weights agrees (a forward pass that recognises test images instead of
   computing the network earns nothing either).

Budget per submission: about 15 s on one core (one training epoch on 3,000 images, two forward
passes over 10,000 images). MNIST comes from CNNKIT_DATA (or the download cache).
"""

import json

import numpy as np
import pytest

from cnnkit.autograder.suite import points
from cnnkit.autograder.suites.common import ref
from cnnkit.data import load_mnist, to_nchw_float
from cnnkit.phases import SUBMITTED_MODEL

PHASE = 9
PATCHES = ()
MODEL_FILE = SUBMITTED_MODEL
TRAIN_IMAGES, CHECK_IMAGES, TRAIN_ACCURACY = 3000, 2000, 0.80
CHUNK = 1000  # test images per forward call: the sandbox's memory limit holds this comfortably
MAX_MODEL_BYTES, MAX_PARAMETERS, MIN_AGREEMENT = 64 * 1024**2, 5_000_000, 0.999
LAYERS = {  # layer type -> its integer arguments in a saved architecture
    "Conv2D": ("in_channels", "out_channels", "kernel_size", "stride", "padding"),
    "Dense": ("in_features", "out_features"), "MaxPool2D": ("size", "stride"),
    "ReLU": (), "Flatten": (),
}


class ModelFileError(ValueError):
    """The submitted model file can't be used (said in the student's terms)."""


def read_model_file(path):
    """(layer specs for the child's "model" recipe, params) from a student's model.npz.

    The file is untrusted: size-capped, read without pickle, every field checked.
    """
    if not path.is_file() or path.is_symlink():
        raise ModelFileError(f"no {MODEL_FILE} next to scratchcnn/ in your submission: train with "
                             f"`cnnkit train --impl assignments` and hand in the model.npz it saves")
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise ModelFileError(f"{MODEL_FILE} is larger than {MAX_MODEL_BYTES // 1024**2} MiB")
    try:
        with np.load(path, allow_pickle=False) as saved:
            architecture = json.loads(str(saved["architecture"]))
            params = {k.removeprefix("param:"): saved[k] for k in saved.files
                      if k.startswith("param:")}
        layers = [layer_spec(spec) for spec in architecture["layers"]]
    except ModelFileError:
        raise
    except Exception as err:
        raise ModelFileError(f"{MODEL_FILE} is not a model saved by cnnkit train ({err})") from None
    if sum(p.size for p in params.values()) > MAX_PARAMETERS or any(
            p.dtype.kind != "f" for p in params.values()):
        raise ModelFileError(f"{MODEL_FILE}: parameters must be floats, at most "
                             f"{MAX_PARAMETERS:,} in all")
    return layers, params


def layer_spec(spec):
    kind = spec["type"]
    if kind not in LAYERS or set(spec) - {"type", *LAYERS[kind]}:
        raise ModelFileError(f"{MODEL_FILE}: unknown layer {spec!r}")
    init = {k: v for k, v in spec.items() if k != "type"}
    values = [v for value in init.values() for v in (value if isinstance(value, list) else [value])]
    if not all(isinstance(v, int) and 0 <= v <= 4096 for v in values):
        raise ModelFileError(f"{MODEL_FILE}: layer arguments must be small integers ({spec!r})")
    return {"class": f"layers.{kind}", "init": init}


def reference_forward(layers, params, x):
    model = ref.model.CNN([getattr(ref.layers, spec["class"].split(".")[1])(**{
        k: tuple(v) if isinstance(v, list) else v for k, v in spec["init"].items()})
        for spec in layers])
    for name, value in params.items():
        index, key = name.split(".")
        model.layers[int(index)].params[key] = value.astype(np.float32)
    return np.concatenate([model.forward(x[i:i + CHUNK]) for i in range(0, len(x), CHUNK)])


def guide_layers():
    return [{"class": f"layers.{type(layer).__name__}", "init": init}
            for layer, init in zip(ref.model.build_guide_cnn(rng=0).layers, [
                {"in_channels": 1, "out_channels": 32, "kernel_size": 3}, {},
                {"size": 2, "stride": 2},
                {"in_channels": 32, "out_channels": 64, "kernel_size": 3}, {},
                {"size": 2, "stride": 2}, {}, {"in_features": 1600, "out_features": 128}, {},
                {"in_features": 128, "out_features": 10}])]


def build_job(job, rng):
    mnist = load_mnist(download=False)
    order = rng.permutation(len(mnist.x_train))[:TRAIN_IMAGES]
    cases = {"x_test": to_nchw_float(mnist.x_test), "y_test": mnist.y_test.astype(np.int64),
             "init": ref.model.build_guide_cnn(rng=int(rng.integers(2**31))).params}
    job.recipe("train", "train", model={"class": "model.CNN", "layers": guide_layers(),
                                        "params": cases["init"]},
               optimizer={"class": "model.SGD", "init": {"lr": 0.05, "momentum": 0.9}},
               function="train.train_epoch", x=to_nchw_float(mnist.x_train[order]),
               y=mnist.y_train[order].astype(np.int64), kwargs={"batch_size": 32}, epochs=1)
    try:
        cases["layers"], cases["params"] = read_model_file(job.submission / MODEL_FILE)
    except ModelFileError as err:
        cases["model_error"] = str(err)
        return cases
    for i in range(0, len(cases["x_test"]), CHUNK):
        job.recipe(f"test-{i}", "model", **{"class": "model.CNN", "layers": cases["layers"],
                   "params": cases["params"], "forward": cases["x_test"][i:i + CHUNK]})
    return cases


def training_accuracy(student):
    """Accuracy of the weights the student's train_epoch produced (reference forward)."""
    c = student.cases
    params = {name: student("train", f"params.{name}") for name in c["init"]}
    logits = reference_forward(guide_layers(), params, c["x_test"][:CHECK_IMAGES])
    return float(np.mean(logits.argmax(axis=1) == c["y_test"][:CHECK_IMAGES]))


@pytest.fixture(scope="module")
def model_accuracy(student):
    """The submitted model's accuracy on the 10,000 test images, once training is shown."""
    c = student.cases
    if training_accuracy(student) < TRAIN_ACCURACY:
        raise AssertionError("the accuracy of model.npz counts once your train_epoch trains "
                             "(see the training test)")
    if "model_error" in c:
        raise AssertionError(c["model_error"])
    logits = np.concatenate([student(f"test-{i}", "out") for i in range(0, len(c["x_test"]), CHUNK)])
    if logits.shape != (len(c["x_test"]), 10) or not np.all(np.isfinite(logits)):
        raise AssertionError(f"your model's forward pass gave logits of shape {logits.shape} "
                             f"(finite: {bool(np.all(np.isfinite(logits)))}); needs "
                             f"({len(c['x_test'])}, 10), all finite")
    predictions = logits.argmax(axis=1)
    agreement = np.mean(predictions == reference_forward(c["layers"], c["params"],
                                                         c["x_test"]).argmax(axis=1))
    if agreement < MIN_AGREEMENT:
        raise AssertionError(f"your forward pass and your saved weights disagree: the network "
                             f"those weights define predicts differently on "
                             f"{1 - agreement:.1%} of the test images")
    return float(np.mean(predictions == c["y_test"]))


@points(5)
def test_training_code_trains(student):
    """train_epoch trains the guide's CNN: >= 80% after one epoch on 3,000 images"""
    accuracy = training_accuracy(student)
    assert accuracy >= TRAIN_ACCURACY, (
        f"after one epoch of your train_epoch on {TRAIN_IMAGES:,} images (batch 32, SGD lr 0.05, "
        f"momentum 0.9) the network reaches {accuracy:.1%} on {CHECK_IMAGES:,} test images; "
        f"a working training loop reaches about 90%")


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
