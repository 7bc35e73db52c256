"""`cnnkit grade` of one submission under Gradescope's default limits: does it fit?

Gradescope gives an autograder 10 minutes, 768 MB of memory and half a CPU by default. This runs
`cnnkit grade SUBMISSION` in a cgroup with those limits (memory, CPU quota) and reports the wall
time, the peak memory of everything it started (the grader, the suites, the sandbox, the reference
server), whether the kernel's OOM killer fired, and the grade. Needs root and cgroup v1's memory and cpu controllers (what
these machines have).

    python benchmarks/gradescope_limits.py SUBMISSION [--memory-mb 768] [--cpus 0.5] [--phases 9]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

V1 = Path("/sys/fs/cgroup")


def own_cgroup_v1(controller: str) -> Path:
    """The v1 hierarchy of `controller` where this process lives."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return V1 / controller / path.lstrip("/")
    raise RuntimeError(f"no cgroup v1 {controller} controller here")


class Limits:
    """A memory and a CPU cgroup (v1) made for one run, removed afterwards."""

    def __init__(self, memory_bytes: int, cpus: float) -> None:
        name = f"cnnkit-gradescope-{os.getpid()}"
        self.memory = own_cgroup_v1("memory") / name
        self.cpu = own_cgroup_v1("cpu") / name
        for group in (self.memory, self.cpu):
            group.mkdir()
        (self.memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
        swap = self.memory / "memory.memsw.limit_in_bytes"
        if swap.exists():
            swap.write_text(str(memory_bytes))
        period = 100_000
        (self.cpu / "cpu.cfs_period_us").write_text(str(period))
        (self.cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * period)))

    def enter(self) -> None:
        """preexec_fn: move the new process into both groups."""
        for group in (self.memory, self.cpu):
            (group / "cgroup.procs").write_text(str(os.getpid()))

    def peak_bytes(self) -> int:
        return int((self.memory / "memory.max_usage_in_bytes").read_text())

    def oom_kills(self) -> int:
        for line in (self.memory / "memory.oom_control").read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return int("under_oom 1" in (self.memory / "memory.oom_control").read_text())

    def throttled_seconds(self) -> float:
        """How long the CPU quota held the run back (proof that the quota applies)."""
        stats = dict(line.split() for line in (self.cpu / "cpu.stat").read_text().splitlines())
        return int(stats.get("throttled_time", 0)) / 1e9

    def remove(self) -> None:
        for group in (self.memory, self.cpu):
            try:
                group.rmdir()
            except OSError:
                pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission", type=Path)
    parser.add_argument("--memory-mb", type=int, default=768)
    parser.add_argument("--cpus", type=float, default=0.5)
    parser.add_argument("--phases", help="passed to cnnkit grade (default: every phase)")
    args = parser.parse_args()
    limits = Limits(args.memory_mb * 1024**2, args.cpus)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp, "grade.json")
            command = [sys.executable, "-m", "cnnkit.cli", "grade", str(args.submission),
                       "--json", str(out), *(["--phases", args.phases] if args.phases else [])]
            started = time.monotonic()
            done = subprocess.run(command, preexec_fn=limits.enter, capture_output=True,
                                  text=True)
            wall = time.monotonic() - started
            grade = json.loads(out.read_text()) if out.exists() else None
        print(f"limits: {args.memory_mb} MB, {args.cpus:g} CPU")
        print(f"wall time: {wall:.1f} s; peak memory: {limits.peak_bytes() / 1024**2:.0f} MiB; "
              f"OOM kills: {limits.oom_kills()}; held back by the CPU quota: "
              f"{limits.throttled_seconds():.1f} s; exit status {done.returncode}")
        if grade is None:
            print(done.stdout[-2000:], done.stderr[-2000:])
            return 1
        for p in grade["phases"]:
            print(f"  phase {p['phase']:>2}: {p['status']:<11} {p['score']:g} / {p['max_score']:g}")
        print(f"total {grade['total']:g} of {grade['max_total']:g} (+{grade['bonus_max']:g} bonus)")
        return 0
    finally:
        limits.remove()


if __name__ == "__main__":
    sys.exit(main())
