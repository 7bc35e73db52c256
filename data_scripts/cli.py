"""The `cnnkit data` subcommand: `download [--dest DIR]` and `verify [--data DIR]`, each for one
`--dataset` (mnist, the default, or fashion)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .datasets import DATASETS, get_dataset
from .download import DownloadError
from .mnist import FileReport, download_mnist, verify_mnist


def add_dataset_option(parser: argparse.ArgumentParser) -> None:
    """`--dataset NAME`, one of DATASETS (default mnist)."""
    parser.add_argument("--dataset", choices=tuple(DATASETS), default="mnist",
                        help="mnist (default) or fashion (Fashion-MNIST)")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `data` subcommand to `subparsers`; each action sets `func(args) -> exit code`."""
    data = subparsers.add_parser("data", help="download or verify the MNIST or Fashion-MNIST files",
                                 description="Download or verify the four files of MNIST or "
                                             "Fashion-MNIST.")
    actions = data.add_subparsers(dest="data_action", required=True, metavar="ACTION")

    download = actions.add_parser(
        "download", help="download the missing files (md5-checked)",
        description="Download the files missing from DIR from public mirrors, tried in order.")
    add_dataset_option(download)
    download.add_argument("--dest", type=Path, metavar="DIR",
                          help="folder to download into (default: the per-user cache folder)")
    mirrors = "; ".join(f"{d.name}: {', '.join(d.mirrors)}" for d in DATASETS.values())
    download.add_argument("--mirror", action="append", metavar="URL", dest="mirrors",
                          help=f"base URL to try, repeatable (default: {mirrors})")
    download.add_argument("--force", action="store_true",
                          help="download again files that are already there")
    download.add_argument("--retries", type=int, default=2, metavar="N",
                          help="extra tries per mirror after a transient failure (default: 2)")
    download.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                          help="limit for connecting and for each read (default: 30)")
    download.add_argument("--quiet", action="store_true", help="no progress bars")
    download.set_defaults(func=run_download)

    verify = actions.add_parser(
        "verify", help="check the files: structure, shapes, md5",
        description="Check the four files in DIR (default: $CNNKIT_DATA for MNIST; "
                    "$CNNKIT_FASHION_DATA, else /usr/share/datasets/fashion-mnist for "
                    "Fashion-MNIST; else the cache folder).")
    add_dataset_option(verify)
    verify.add_argument("--data", type=Path, metavar="DIR", help="folder holding the files")
    verify.set_defaults(func=run_verify)
    return data


def run_download(args: argparse.Namespace) -> int:
    """`cnnkit data download`: 0 when all four files are there, 1 on a download error."""
    try:
        folder = download_mnist(args.dest, mirrors=args.mirrors, force=args.force,
                                retries=args.retries, timeout=args.timeout, quiet=args.quiet,
                                dataset=args.dataset)
    except (DownloadError, ValueError) as e:  # ValueError: a bad --retries or --timeout
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{get_dataset(args.dataset).title} files are in {folder}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """`cnnkit data verify`: one line per file; 0 when all four are valid (md5 mismatch is a warning)."""
    folder, reports = verify_mnist(args.data, dataset=args.dataset)
    print(f"{get_dataset(args.dataset).title} folder {folder}")
    for report in reports:
        print(_describe(report))
    return 0 if all(r.error is None for r in reports) else 1


def _describe(report: FileReport) -> str:
    if report.error is not None:
        return f"  ERROR    {report.error}"
    shape = "x".join(map(str, report.shape))
    match report.md5_matches:
        case True if report.md5 == report.official_md5:
            check = "md5 ok"
        case True:
            check = "md5 ok for the uncompressed content (a recompressed .gz)"
        case False:
            check = f"WARNING: md5 {report.md5} differs from the official {report.official_md5}"
        case None:
            check = "md5 not checked (uncompressed file)"
    return f"  ok       {report.path}  shape {shape}  {check}"
