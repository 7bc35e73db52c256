"""cnnkit.data: MNIST and Fashion-MNIST download, validation and loading; scikit-learn digits
for quick tests.

    from cnnkit.data import load_mnist, to_nchw_float
    mnist = load_mnist()                    # data_dir argument > $CNNKIT_DATA > cache (+ download)
    x = to_nchw_float(mnist.x_train)        # (60000, 1, 28, 28) float32 in [0, 1]
    fashion = load_mnist(dataset="fashion") # > $CNNKIT_FASHION_DATA > /usr/share/datasets/... > cache
"""

from .datasets import DATASETS, Dataset, get_dataset
from .digits import Digits, load_digits_nchw
from .download import ChecksumError, DownloadError, MirrorFailure, download_file
from .idx import IdxError, parse_idx, read_idx
from .mnist import (
    ENV_VAR,
    FILES,
    MIRRORS,
    MNIST,
    ChecksumWarning,
    FileReport,
    MnistFile,
    default_cache_dir,
    download_mnist,
    load_mnist,
    read_mnist_file,
    resolve_data_dir,
    to_nchw_float,
    verify_mnist,
)

__all__ = [
    "DATASETS", "ENV_VAR", "FILES", "MIRRORS", "MNIST", "ChecksumError", "ChecksumWarning",
    "Dataset", "Digits", "DownloadError", "FileReport", "IdxError", "MirrorFailure", "MnistFile",
    "default_cache_dir", "download_file", "download_mnist", "get_dataset", "load_digits_nchw",
    "load_mnist", "parse_idx", "read_idx", "read_mnist_file", "resolve_data_dir", "to_nchw_float",
    "verify_mnist",
]
