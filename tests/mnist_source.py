"""Where the kit's own tests read MNIST from, so that `make test` needs no setup step.

First match wins:
1. $CNNKIT_DATA (CI sets it),
2. a `shared/data/mnist` folder beside the checkout holding the four files (the course team's
   machines; test code only: the library never knows about it),
3. the per-user cache of `cnnkit.data` (`default_cache_dir()`), into which the missing files are
   downloaded by the kit's own `download_mnist`: from the public mirrors, md5-checked, each file
   moved into place only once complete.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from cnnkit.data import ENV_VAR, FILES, download_mnist, resolve_data_dir

CHECKOUT = Path(__file__).resolve().parents[1]
SHARED_SOURCE = "shared"


def shared_dir(checkout: Path = CHECKOUT) -> Path:
    """The team's read-only copy: <checkout>/../shared/data/mnist."""
    return checkout.parent / "shared" / "data" / "mnist"


def locate_mnist(checkout: Path = CHECKOUT, *, mirrors: Sequence[str] | None = None,
                 md5s: Mapping[str, str] | None = None) -> tuple[Path, str]:
    """(folder holding the four MNIST files, where it came from: "CNNKIT_DATA", "shared" or
    "cache"). Downloads into the cache only; `mirrors` and `md5s` (default: the official ones)
    are passed to `download_mnist`, which raises DownloadError naming each mirror on failure."""
    shared = shared_dir(checkout)
    if not os.environ.get(ENV_VAR) and all((shared / s.filename).is_file() for s in FILES):
        return shared, SHARED_SOURCE
    folder, source = resolve_data_dir()
    if source == "cache":
        download_mnist(folder, mirrors=mirrors, md5s=md5s)
    return folder, source

