"""The MNIST-format datasets cnnkit knows: their files, checksums, mirrors, classes and folders.

Both are four IDX files of 28x28 greyscale images and labels 0..9 under the same names:
- "mnist": LeCun, Cortes and Burges' handwritten digits.
- "fashion": Zalando's Fashion-MNIST (MIT licence), clothing photographs, a harder drop-in
  replacement. Debian and Ubuntu ship it as the package `dataset-fashion-mnist`, which installs
  the files in /usr/share/datasets/fashion-mnist/ (recompressed: the .gz md5s differ from the
  official ones, the uncompressed contents are identical, hence `raw_md5`).

`cnnkit.data.mnist` finds, downloads, checks and loads the files of any entry of `DATASETS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .idx import ubyte_magic


@dataclass(frozen=True)
class MnistFile:
    """One of the four files of an MNIST-format dataset: its name, official md5s, array shape."""

    filename: str  # the .gz name; the uncompressed file drops ".gz"
    md5: str  # of the official .gz file
    shape: tuple[int, ...]  # (N, 28, 28) for images, (N,) for labels
    raw_md5: str | None = None  # of the uncompressed file, where the publisher gives it

    @property
    def magic(self) -> int:
        """IDX magic number: 2051 for images (3-D), 2049 for labels (1-D)."""
        return ubyte_magic(len(self.shape))

    @property
    def is_labels(self) -> bool:
        return len(self.shape) == 1

    @property
    def raw_filename(self) -> str:
        return self.filename.removesuffix(".gz")


@dataclass(frozen=True)
class Dataset:
    """An MNIST-format dataset: where its files come from and what its labels mean."""

    name: str  # the --dataset value
    title: str  # its name in messages
    files: tuple[MnistFile, ...]  # train images, train labels, test images, test labels
    mirrors: tuple[str, ...]  # base URLs, tried in order, each serving the four .gz files
    env_var: str  # names the user's own folder
    cache_name: str  # the subfolder of the per-user data folder
    class_names: tuple[str, ...]  # label -> name
    system_dirs: tuple[Path, ...] = ()  # where system packages install the files

    @property
    def download_command(self) -> str:
        return "cnnkit data download" + ("" if self.name == "mnist" else f" --dataset {self.name}")

    @property
    def offline_hint(self) -> str:
        return (f"Without network access, put the four {self.title} files in a folder and pass it "
                f"as data_dir (cnnkit data ... --data DIR) or set {self.env_var}.")


# (name, shape) of the four files, in the order of `Dataset.files`.
_LAYOUT = (("train-images-idx3-ubyte.gz", (60000, 28, 28)), ("train-labels-idx1-ubyte.gz", (60000,)),
           ("t10k-images-idx3-ubyte.gz", (10000, 28, 28)), ("t10k-labels-idx1-ubyte.gz", (10000,)))


def _four_files(md5s: tuple[str, ...], raw_md5s: tuple[str | None, ...] = (None,) * 4
                ) -> tuple[MnistFile, ...]:
    return tuple(MnistFile(name, md5, shape, raw)
                 for (name, shape), md5, raw in zip(_LAYOUT, md5s, raw_md5s, strict=True))


MNIST_DATASET = Dataset(
    name="mnist", title="MNIST",
    files=_four_files(("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                       "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c")),
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/",
             "http://yann.lecun.com/exdb/mnist/"),
    env_var="CNNKIT_DATA", cache_name="mnist",
    class_names=tuple(str(digit) for digit in range(10)))

# Checksums from the Fashion-MNIST README (.gz) and the uncompressed files' published md5s.
FASHION_DATASET = Dataset(
    name="fashion", title="Fashion-MNIST",
    files=_four_files(("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                       "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
                      ("f4a8712d7a061bf5bd6d2ca38dc4d50a", "9018921c3c673c538a1fc5bad174d6f9",
                       "8181f5470baa50b63fa0f6fddb340f0a", "15d484375f8d13e6eb1aabb0c3f46965")),
    mirrors=("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
             "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
    env_var="CNNKIT_FASHION_DATA", cache_name="fashion-mnist",
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"),
    system_dirs=(Path("/usr/share/datasets/fashion-mnist"),))

DATASETS: dict[str, Dataset] = {d.name: d for d in (MNIST_DATASET, FASHION_DATASET)}


def get_dataset(name: str) -> Dataset:
    """The entry of DATASETS called `name`; ValueError naming the known ones otherwise."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"dataset must be one of {', '.join(map(repr, DATASETS))} "
                         f"(got {name!r})") from None
