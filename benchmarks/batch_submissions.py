"""A course-sized folder of submissions for `benchmarks/grade_batch.py`, from the kit's corpora.

Five kinds, taken in turn (so that any N mixes them), each cycling through its own list:
- correct: the correct alternatives of tests/autograder/corpus/correct/, patched into the reference;
- known_wrong: the realistic bugs of corpus/known_wrong/, patched into the reference;
- trick: the cheats and breakers of corpus/tricks/ (hangs, segfaults, exits, floods, fork and
  memory bombs...), built on the stubs as in tests/autograder/test_grade_tricks.py;
- hostile: a FIFO as model.npz, a FIFO inside scratchcnn/, a .zip of garbage, a truncated .zip,
  a .zip whose member fails its CRC, a sound .zip of the reference;
- plain: the reference, the untouched stubs.
Every third folder submission also gets the trained `model.npz` (Phase 9).
"""

from __future__ import annotations

import ast
import itertools
import os
import shutil
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cnnkit.paths import KIT_ROOT

# The corpus readers of the kit's own grader tests: one way to turn an entry into a submission.
sys.path.insert(0, str(KIT_ROOT / "tests" / "autograder"))
from test_grade_corpus import CORPUS, Entry, copy_package  # noqa: E402
from test_grade_tricks import drop_definitions  # noqa: E402

SOLUTIONS = KIT_ROOT / "solutions"
STUBS = KIT_ROOT / "assignments"
MODEL_EVERY = 3  # one folder submission in three hands in model.npz
# Taken first, so that even a small batch hangs, crashes and exits.
BREAKERS = ("trick_infinite_loop", "trick_segfault", "trick_os_exit_in_call", "trick_output_flood",
            "trick_memory_bomb", "trick_fork_bomb", "trick_sys_exit_at_import")


@dataclass(frozen=True)
class Recipe:
    """How to build one kind of submission: `build(folder)` fills the new `folder` (a student's
    folder, not yet created) and returns the submission it made there or beside it (a .zip)."""

    kind: str
    name: str
    build: Callable[[Path], Path]


def corpus_entry(entry: Entry, folder: Path) -> Path:
    """A known-wrong or correct entry: its code appended to a copy of the reference."""
    return entry.apply(copy_package(SOLUTIONS, folder))


def trick_entry(entry: Entry, folder: Path) -> Path:
    """A trick: the stubs, its honest reference files, its code in place of the stubs it defines."""
    copy_package(STUBS, folder)
    meta = entry.meta
    for name in meta.get("reference_files", ()):
        shutil.copyfile(SOLUTIONS / "scratchcnn" / name, folder / "scratchcnn" / name)
    if meta["file"] not in meta.get("reference_files", ()):
        defined = {node.name for node in ast.parse(entry.code).body
                   if isinstance(node, ast.FunctionDef)}
        drop_definitions(folder / "scratchcnn" / meta["file"], defined)
    return entry.apply(folder)


def fifo_at(relative: str, folder: Path) -> Path:
    """The reference with a named pipe at `relative`: reading it would block forever."""
    copy_package(SOLUTIONS, folder)
    os.mkfifo(folder / relative)
    return folder


def zipped_reference(folder: Path) -> Path:
    """The reference as a sound .zip (stored, uncompressed: the members' bytes are in clear)."""
    archive = folder.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        for path in sorted((SOLUTIONS / "scratchcnn").glob("*.py")):
            out.write(path, f"scratchcnn/{path.name}")
    return archive


def garbage_zip(folder: Path) -> Path:
    archive = folder.with_suffix(".zip")
    archive.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 16)
    return archive


def truncated_zip(folder: Path) -> Path:
    archive = zipped_reference(folder)
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    return archive


def bad_crc_zip(folder: Path) -> Path:
    """A .zip with an intact directory whose first member's bytes no longer match their CRC."""
    archive = zipped_reference(folder)
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as reader:
        first = reader.infolist()[0]
    start = first.header_offset + 30 + len(first.filename.encode()) + len(first.extra)
    data[start] ^= 0xFF
    archive.write_bytes(bytes(data))
    return archive


def breakers_first(path: Path) -> tuple[int, str]:
    return (BREAKERS.index(path.stem) if path.stem in BREAKERS else len(BREAKERS), path.stem)


def recipes() -> dict[str, list[Recipe]]:
    """Every recipe, by kind, in a fixed order."""
    def of(corpus: str, kind: str, build) -> list[Recipe]:
        return [Recipe(kind, path.stem, lambda folder, e=Entry.read(path): build(e, folder))
                for path in sorted((CORPUS / corpus).glob("*.py"),
                                   key=breakers_first)]

    return {
        "correct": of("correct", "correct", corpus_entry),
        "known_wrong": of("known_wrong", "known_wrong", corpus_entry),
        "trick": of("tricks", "trick", trick_entry),
        "hostile": [Recipe("hostile", "fifo_model", lambda f: fifo_at("model.npz", f)),
                    Recipe("hostile", "zip_bad_crc", bad_crc_zip),
                    Recipe("hostile", "fifo_in_package",
                           lambda f: fifo_at("scratchcnn/notes.txt", f)),
                    Recipe("hostile", "zip_truncated", truncated_zip),
                    Recipe("hostile", "zip_garbage", garbage_zip),
                    Recipe("hostile", "zip_reference", zipped_reference)],
        "plain": [Recipe("plain", "reference", lambda f: copy_package(SOLUTIONS, f)),
                  Recipe("plain", "stubs", lambda f: copy_package(STUBS, f))],
    }


def plan(n: int) -> list[Recipe]:
    """`n` recipes: the kinds in turn, each cycling through its own list."""
    if n < 1:
        raise ValueError(f"n must be >= 1 (got {n})")
    cycles = [itertools.cycle(kind) for kind in recipes().values()]
    return [next(cycles[i % len(cycles)]) for i in range(n)]


def build_batch(dest: Path, n: int, model: Path | None) -> dict[str, Recipe]:
    """Build `n` submissions in the new folder `dest`; student id -> its recipe. Every
    MODEL_EVERY-th folder submission gets a copy of `model` as model.npz (if given and the
    recipe did not put something there already)."""
    dest.mkdir(parents=True)
    students = {}
    folders = 0
    for i, recipe in enumerate(plan(n)):
        student = f"s{i:04d}-{recipe.kind}-{recipe.name}"
        submission = recipe.build(dest / student)
        if submission.is_dir():
            folders += 1
            target = submission / "model.npz"
            if model is not None and folders % MODEL_EVERY == 1 and not os.path.lexists(target):
                shutil.copyfile(model, target)
        students[student] = recipe
    return students
