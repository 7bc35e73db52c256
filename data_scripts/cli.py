"""The `cnnkit data` subcommand: `download [--dest DIR]` and `verify [--data DIR]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .download import DownloadError
from .mnist import ENV_VAR, MIRRORS, FileReport, download_mnist, verify_mnist


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `data` subcommand to `subparsers`; each action sets `func(args) -> exit code`."""
    data = subparsers.add_parser("data", help="download or verify the MNIST files",
                                 description="Download or verify the four MNIST files.")
    actions = data.add_subparsers(dest="data_action", required=True, metavar="ACTION")

    download = actions.add_parser(
        "download", help="download the missing MNIST files (md5-checked)",
        description="Download the MNIST files missing from DIR from public mirrors, tried in order.")
    download.add_argument("--dest", type=Path, metavar="DIR",
                          help="folder to download into (default: the per-user cache folder)")
    download.add_argument("--mirror", action="append", metavar="URL", dest="mirrors",
                          help=f"base URL to try, repeatable (default: {', '.join(MIRRORS)})")
    download.add_argument("--force", action="store_true",
                          help="download again files that are already there")
    download.add_argument("--retries", type=int, default=2, metavar="N",
                          help="extra tries per mirror after a transient failure (default: 2)")
    download.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                          help="limit for connecting and for each read (default: 30)")
    download.add_argument("--quiet", action="store_true", help="no progress bars")
    download.set_defaults(func=run_download)

    verify = actions.add_parser(
        "verify", help="check the MNIST files: structure, shapes, md5",
        description=f"Check the four MNIST files in DIR (default: ${ENV_VAR}, else the cache folder).")
    verify.add_argument("--data", type=Path, metavar="DIR", help="folder holding the MNIST files")
    verify.set_defaults(func=run_verify)
    return data


def run_download(args: argparse.Namespace) -> int:
    """`cnnkit data download`: 0 when all four files are there, 1 on a download error."""
    try:
        folder = download_mnist(args.dest, mirrors=args.mirrors or MIRRORS, force=args.force,
                                retries=args.retries, timeout=args.timeout, quiet=args.quiet)
    except (DownloadError, ValueError) as e:  # ValueError: a bad --retries or --timeout
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"MNIST files are in {folder}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """`cnnkit data verify`: one line per file; 0 when all four are valid (md5 mismatch is a warning)."""
    folder, reports = verify_mnist(args.data)
    print(f"MNIST folder {folder}")
    for report in reports:
        print(_describe(report))
    return 0 if all(r.error is None for r in reports) else 1


def _describe(report: FileReport) -> str:
    if report.error is not None:
        return f"  ERROR    {report.error}"
    shape = "x".join(map(str, report.shape))
    match report.md5_matches:
        case True:
            check = "md5 ok"
        case False:
            check = f"WARNING: md5 {report.md5} differs from the official {report.spec.md5}"
        case None:
            check = "md5 not checked (uncompressed file)"
    return f"  ok       {report.path}  shape {shape}  {check}"
