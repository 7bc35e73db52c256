"""Watching a running `cnnkit grade-all` from outside, for `benchmarks/grade_batch.py`.

A `Watcher` thread polls, every `interval` seconds, while the run goes on:
- every per-student JSON and the CSV under their final names (hidden temporary files excepted):
  each new or changed file is read and parsed at once; one that does not parse, or lacks what
  a grade or the score table must hold, is recorded as torn (half-written);
- the memory of grade-all's process tree (VmRSS of every descendant, from /proc): the peak of
  the sum (shared pages counted in each process, so an upper bound) and of any single process.
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
import time
from pathlib import Path

GRADE_KEYS = {"student", "total", "max_total", "bonus_max", "phases"}


def children_of() -> dict[int, list[int]]:
    """Parent pid -> its children's pids, for every process in /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # the process ended meanwhile
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    tree, found, todo = children_of(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, ()))
    return found


def start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), None if it is gone: tells a process from a
    later one that reuses its pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def command_name(pid: int) -> str:
    """The process's command line, shortened (its name if it has none), "?" if it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = f.read().split(b"\0")
        with open(f"/proc/{pid}/comm") as f:
            name = f.read().strip()
    except OSError:
        return "?"
    line = " ".join(w.decode(errors="replace") for w in words if w)
    return (line[:120] + "...") if len(line) > 120 else line or name


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def torn_grade(text: str) -> str | None:
    """Why a per-student JSON is not a whole grade, or None."""
    try:
        grade = json.loads(text)
    except ValueError as e:
        return f"not JSON ({e})"
    missing = GRADE_KEYS - set(grade) if isinstance(grade, dict) else GRADE_KEYS
    return f"lacks {sorted(missing)}" if missing else None


def torn_csv(text: str) -> str | None:
    """Why the score table is not whole (a header starting 'student', rows as wide), or None."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0][:1] != ["student"]:
        return "no header row"
    if not text.endswith("\n"):
        return "no final newline"
    widths = {len(row) for row in rows}
    return None if widths == {len(rows[0])} else f"rows of widths {sorted(widths)}"


class Watcher(threading.Thread):
    """Polls one grade-all run (process `root`) writing `results`/*.json and `csv_path`.

    After stop(): `completed` (student -> mtime of their parsed JSON), `torn` (descriptions),
    `reads` (files parsed), `peak_tree_rss`, `peak_process_rss` (bytes), `last_tree` (pids seen
    in the last poll)."""

    def __init__(self, root: int, results: Path, csv_path: Path, interval: float = 0.25):
        super().__init__(daemon=True)
        self.root, self.results, self.csv_path, self.interval = root, results, csv_path, interval
        self.completed: dict[str, float] = {}
        self.torn: list[str] = []
        self.reads = 0
        self.peak_tree_rss = self.peak_process_rss = 0
        self.last_tree: list[int] = []
        self._versions: dict[Path, tuple[int, int, int]] = {}
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            self.poll()
            self._stopping.wait(self.interval)
        self.poll()  # what the run left behind

    def stop(self) -> None:
        self._stopping.set()
        self.join()

    def poll(self) -> None:
        files = sorted(self.results.glob("*.json")) if self.results.is_dir() else []
        for path in [*files, self.csv_path]:
            if not path.name.startswith("."):
                self._check(path, torn_grade if path.suffix == ".json" else torn_csv)
        tree = descendants(self.root) if os.path.exists(f"/proc/{self.root}") else []
        self.last_tree = tree
        sizes = [rss_bytes(pid) for pid in tree]
        self.peak_tree_rss = max(self.peak_tree_rss, sum(sizes))
        self.peak_process_rss = max([self.peak_process_rss, *sizes])

    def _check(self, path: Path, why_torn) -> None:
        """Parse `path` if it is new or changed since the last poll."""
        try:
            stat = path.stat()
            version = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if self._versions.get(path) == version:
                return
            text = path.read_bytes().decode(errors="replace")  # a torn character is torn JSON
        except FileNotFoundError:
            return
        self._versions[path] = version
        self.reads += 1
        why = why_torn(text)
        if why:
            self.torn.append(f"{path.name} at {time.strftime('%H:%M:%S')}: {why}")
        elif path.suffix == ".json":
            self.completed[path.stem] = stat.st_mtime
