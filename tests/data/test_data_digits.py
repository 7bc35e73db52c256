"""cnnkit.data.digits: scikit-learn digits as NCHW float32 with a fixed split."""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit.data import load_digits_nchw


@pytest.fixture(scope="module")
def digits():
    return load_digits_nchw()


def test_shapes_dtypes_and_ranges(digits):
    assert digits.x_train.shape == (1347, 1, 8, 8) and digits.x_test.shape == (450, 1, 8, 8)
    assert digits.x_train.dtype == np.float32 and digits.y_train.dtype == np.int64
    for x in (digits.x_train, digits.x_test):
        assert x.min() == 0.0 and x.max() == 1.0
    assert digits.y_train.shape == (1347,) and digits.y_test.shape == (450,)


def test_the_split_partitions_the_data_set(digits):
    from sklearn.datasets import load_digits

    reference = load_digits()
    ours = np.concatenate([digits.x_train, digits.x_test]).reshape(-1, 64) * 16
    assert sorted(map(bytes, ours.round().astype(np.uint8))) == sorted(
        map(bytes, reference.data.astype(np.uint8)))
    # stratified: every class is in the test set in proportion (+-1 image)
    test_counts = np.bincount(digits.y_test, minlength=10)
    expected = np.bincount(reference.target) * 450 / 1797
    assert np.all(np.abs(test_counts - expected) <= 1)


def test_split_is_fixed_by_the_seed(digits):
    again = load_digits_nchw()
    np.testing.assert_array_equal(again.x_train, digits.x_train)
    np.testing.assert_array_equal(again.y_test, digits.y_test)
    other = load_digits_nchw(seed=1)
    assert not np.array_equal(other.y_test, digits.y_test)


def test_test_fraction(digits):
    assert load_digits_nchw(test_fraction=0.5).x_test.shape[0] == 899
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\) \(got 1.5\)"):
        load_digits_nchw(test_fraction=1.5)
