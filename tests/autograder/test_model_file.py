"""`model_file.read_model_file` against hostile model.npz files: each is refused with a reason,
before anything large is decompressed or computed, and the guide's CNN is read back exactly."""

from __future__ import annotations

import io
import json
import os
import resource
import zipfile

import numpy as np
import pytest

from cnnkit.autograder.model_file import (
    MAX_FILE_BYTES, ModelFileError, guide_layers, guide_model, read_model_file,
)


def save(path, params, layers=None, extra=None):
    """A model.npz as `cnnkit train` writes it (np.savez), with optional changes."""
    arrays = {f"param:{k}": v for k, v in params.items()}
    arrays["architecture"] = np.array(json.dumps({"layers": guide_layers() if layers is None
                                                  else layers}))
    np.savez(path, **arrays, **(extra or {}))
    return path


@pytest.fixture
def params():
    return {k: v.copy() for k, v in guide_model().params.items()}


def test_the_guide_cnn_is_read_back_as_float32(tmp_path, params):
    doubled = {k: v.astype(np.float64) for k, v in params.items()}
    got = read_model_file(save(tmp_path / "model.npz", doubled))
    assert set(got) == set(params)
    for name, value in got.items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, params[name])


def test_another_architecture_is_refused_before_any_work(tmp_path):
    """The attack: a small file describing a network that is huge to compute."""
    layers = [{"type": "Conv2D", "in_channels": 1, "out_channels": 1024, "kernel_size": [1, 1],
               "stride": 1, "padding": 0}, {"type": "MaxPool2D", "size": 28, "stride": 28}]
    big = {"0.w": np.zeros((1024, 1, 1, 1), np.float32), "0.b": np.zeros(1024, np.float32)}
    with pytest.raises(ModelFileError, match="entries .* missing or not part of it"):
        read_model_file(save(tmp_path / "model.npz", big, layers))


def test_the_guide_entries_with_another_architecture_are_refused(tmp_path, params):
    layers = guide_layers()
    layers[0]["stride"] = 2
    with pytest.raises(ModelFileError, match="grades the guide's CNN only"):
        read_model_file(save(tmp_path / "model.npz", params, layers))


def test_a_billion_element_entry_is_refused_by_its_declared_size(tmp_path, params):
    """The attack: an entry whose header says 10**9 float64 and whose zip entry inflates to
    hundreds of MB from a few hundred kB."""
    path = tmp_path / "model.npz"
    save(path, params)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                 "shape": (10**9,)})
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as bomb, \
            zipfile.ZipFile(path) as good:
        for info in good.infolist():
            if info.filename != "param:0.w.npy":
                bomb.writestr(info.filename, good.read(info.filename))
        with bomb.open("param:0.w.npy", "w", force_zip64=True) as entry:
            entry.write(header.getvalue())
            zeros = bytes(2**24)
            for _ in range(20):  # 335 MB declared and written, about 330 kB compressed
                entry.write(zeros)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelFileError, match="declares .* more than"):
        read_model_file(tmp_path / "bomb.npz")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024  # nothing near the declared size was ever decompressed


@pytest.mark.parametrize("bad, match", [
    (lambda p: p.update({"0.w": np.array([{}] * 288, dtype=object).reshape(32, 1, 3, 3)}),
     "not a valid .npy"),
    (lambda p: p.update({"0.w": np.zeros((32, 1, 3, 3), np.int64)}), "must be a float array"),
    (lambda p: p.update({"0.w": np.zeros((32, 1, 5, 5), np.float32)}), "must be a float array"),
    (lambda p: p["7.w"].__setitem__((0, 0), np.nan), "nan or inf"),
    (lambda p: p.pop("7.b"), "missing or not part of it"),
])
def test_malformed_parameters_are_refused_with_a_reason(tmp_path, params, bad, match):
    bad(params)
    path = tmp_path / "model.npz"
    arrays = {f"param:{k}": v for k, v in params.items()}
    arrays["architecture"] = np.array(json.dumps({"layers": guide_layers()}))
    np.savez(path, **arrays)  # object arrays are pickled: the reader must refuse them
    with pytest.raises(ModelFileError, match=match):
        read_model_file(path)


def test_an_entry_that_is_not_npy_is_a_reason_not_a_crash(tmp_path, params):
    path = save(tmp_path / "model.npz", params)
    with zipfile.ZipFile(path) as good, zipfile.ZipFile(tmp_path / "odd.npz", "w") as odd:
        for info in good.infolist():
            odd.writestr(info.filename, b"not an array" if info.filename == "param:3.b.npy"
                         else good.read(info.filename))
    with pytest.raises(ModelFileError, match="param:3.b.npy.* not a valid .npy"):
        read_model_file(tmp_path / "odd.npz")


@pytest.mark.parametrize("make, match", [
    (lambda p: p.symlink_to("/dev/zero"), "cannot be opened safely"),
    (lambda p: os.mkfifo(p), "not a regular file"),
    (lambda p: p.write_bytes(b"x" * (MAX_FILE_BYTES + 1)), "larger than"),
    (lambda p: p.write_bytes(b"not a zip"), "not a model saved by cnnkit train"),
    (lambda p: None, "no model.npz"),
])
def test_odd_files_are_refused_without_blocking_or_following(tmp_path, make, match):
    path = tmp_path / "model.npz"
    make(path)
    with pytest.raises(ModelFileError, match=match):
        read_model_file(path)
