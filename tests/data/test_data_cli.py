"""cnnkit.data.cli: the `data` subcommand, driven through a real argparse parser."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import shutil

import pytest

from cnnkit.cli import main
from cnnkit.data import ENV_VAR, FILES, get_dataset
from cnnkit.data.cli import register
from cnnkit.data.mnist import TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS
from cnnkit.models import build_model, load_impl, save_model


def run(argv: list[str]) -> int:
    """Parse `argv` as `cnnkit` would (with `data` registered) and run the chosen handler."""
    parser = argparse.ArgumentParser(prog="cnnkit")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_verify_real_folder(mnist_dir, served_md5, unofficial, capsys):
    assert run(["data", "verify", "--data", str(mnist_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"MNIST folder {mnist_dir}"
    assert len(lines) == 5
    for spec, line in zip(FILES, lines[1:], strict=True):
        assert f"{mnist_dir / spec.filename}  shape {'x'.join(map(str, spec.shape))}" in line
    for spec, line in zip(FILES, lines[1:], strict=True):
        assert line.endswith(f"WARNING: md5 {served_md5[spec.filename]} differs from the official "
                             f"{spec.md5}" if spec.filename in unofficial else "md5 ok"), line


def test_verify_uses_env_var(mnist_dir, monkeypatch, capsys):
    monkeypatch.setenv(ENV_VAR, str(mnist_dir))
    assert run(["data", "verify"]) == 0
    assert capsys.readouterr().out.startswith(f"MNIST folder {mnist_dir}\n")


def test_verify_broken_folder(tmp_path, mnist_dir, mnist_bytes, linked_mnist, capsys):
    folder = linked_mnist(mnist_dir, tmp_path, skip=(TRAIN_IMAGES.filename, TRAIN_LABELS.filename))
    (folder / TRAIN_LABELS.filename).write_bytes(mnist_bytes[TRAIN_LABELS.filename][:1000])
    assert run(["data", "verify", "--data", str(folder)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"  ERROR    {folder / TRAIN_IMAGES.filename}: missing"
    assert lines[2] == f"  ERROR    {folder / TRAIN_LABELS.filename}: truncated gzip data " \
                       "(Compressed file ended before the end-of-stream marker was reached)"
    assert lines[3].endswith("md5 ok") and lines[4].endswith("md5 ok")


def test_download_to_dest(tmp_path, mnist_dir, mirror, refused_url, unofficial, capsys):
    dest = tmp_path / "dest"
    dest.mkdir()
    placed = {TRAIN_IMAGES.filename, *unofficial}  # a served unofficial file fails the official md5
    for name in placed:
        shutil.copy(mnist_dir / name, dest)
    argv = ["data", "download", "--dest", str(dest), "--mirror", refused_url,
            "--mirror", mirror.url("good"), "--retries", "0", "--quiet"]
    assert run(argv) == 0
    assert capsys.readouterr().out == f"MNIST files are in {dest}\n"
    assert sorted(p.name for p in dest.iterdir()) == sorted(s.filename for s in FILES)
    assert sum(mirror.hits.values()) == len(FILES) - len(placed)


def test_download_failure_exit_code_and_message(tmp_path, refused_url, capsys):
    argv = ["data", "download", "--dest", str(tmp_path), "--mirror", refused_url, "--retries", "0",
            "--quiet"]
    assert run(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: could not download {TRAIN_IMAGES.filename} from any of 1 mirror(s):\n")
    assert f"{refused_url}{TRAIN_IMAGES.filename}: cannot connect" in err


def test_download_rejects_bad_retries(tmp_path, capsys):
    assert run(["data", "download", "--dest", str(tmp_path), "--retries", "-1"]) == 1
    assert capsys.readouterr().err == "error: retries must be >= 0 (got -1)\n"


def test_action_is_required(capsys):
    with pytest.raises(SystemExit) as info:
        run(["data"])
    assert info.value.code == 2
    assert "ACTION" in capsys.readouterr().err


# --- --dataset fashion (the Debian package's files; skipped without them) -------------------

FASHION = get_dataset("fashion")


def test_verify_command_on_the_debian_folder(system_dirs, fashion_dir, fashion_bytes, capsys):
    system_dirs(fashion_dir)
    assert run(["data", "verify", "--dataset", "fashion"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Fashion-MNIST folder {fashion_dir}"
    for spec, line in zip(FASHION.files, lines[1:], strict=True):
        recompressed = hashlib.md5(fashion_bytes[spec.filename]).hexdigest() != spec.md5
        assert line.endswith("md5 ok for the uncompressed content (a recompressed .gz)"
                             if recompressed else "md5 ok"), line


def test_download_command_for_fashion(tmp_path, fashion_mirror, capsys):
    argv = ["data", "download", "--dataset", "fashion", "--dest", str(tmp_path),
            "--mirror", fashion_mirror.url("good"), "--retries", "0", "--quiet"]
    assert run(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: could not download {FASHION.files[0].filename} from any of 1 mirror(s)")
    assert f"checksum mismatch: expected md5 {FASHION.files[0].md5}" in err
    assert list(tmp_path.iterdir()) == []


def test_dataset_option_rejects_unknown_names(capsys):
    with pytest.raises(SystemExit) as info:
        run(["data", "verify", "--dataset", "cifar"])
    assert info.value.code == 2
    assert "invalid choice: 'cifar'" in capsys.readouterr().err


def test_a_checksum_note_is_one_line_once(tmp_path, mnist_dir, mnist_bytes, linked_mnist, capsys):
    folder = linked_mnist(mnist_dir, tmp_path / "data", skip=(TEST_LABELS.filename,))
    (folder / TEST_LABELS.filename).write_bytes(gzip.compress(gzip.decompress(
        mnist_bytes[TEST_LABELS.filename]), mtime=0))  # recompressed: another md5
    model = tmp_path / "model.npz"
    save_model(model, build_model(load_impl("solutions"), "cnn", seed=0), {"kind": "cnn"})
    command = ["evaluate", str(model), "--data", str(folder), "--limit", "10"]
    assert main(command) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "md5" in line]
    assert f"cnnkit: note: {folder / TEST_LABELS.filename}: md5 " in "\n".join(notes)
    assert all(line.startswith("cnnkit: note: ") for line in notes)
    assert main(command) == 0
    assert "md5" not in capsys.readouterr().err  # noted once
