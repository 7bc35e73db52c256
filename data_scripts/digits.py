"""scikit-learn's 8x8 digits as a tiny, offline MNIST stand-in for fast end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_PIXEL = 16  # the digits images hold integer grey levels 0..16


@dataclass(frozen=True, eq=False)
class Digits:
    """A fixed train/test split of the 1797 digits images.

    x_train: (N_train, 1, 8, 8) float32 in [0, 1]; y_train: (N_train,) int64 in 0..9;
    x_test: (N_test, 1, 8, 8) float32; y_test: (N_test,) int64.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits_nchw(test_fraction: float = 0.25, seed: int = 0) -> Digits:
    """scikit-learn's `load_digits` as float32 NCHW images in [0, 1] with int64 labels.

    The split is stratified by class and fixed by `seed`: the same arguments give the same arrays.
    With the defaults: 1347 training and 450 test images.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1) (got {test_fraction})")
    from sklearn.datasets import load_digits  # imported here: scikit-learn takes a second to import
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / MAX_PIXEL).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return Digits(x_train, y_train, x_test, y_test)
