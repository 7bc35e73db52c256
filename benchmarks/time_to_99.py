"""Wall time to 99% test accuracy of `cnnkit train` (the default recipe), seed by seed.

    .venv/bin/python benchmarks/time_to_99.py                 # seeds 0 1 2, MNIST from $CNNKIT_DATA
    .venv/bin/python benchmarks/time_to_99.py --data DIR      # or MNIST from a folder
    .venv/bin/python benchmarks/time_to_99.py --seeds 0 1 2 3 4 --impl assignments

Each seed is a separate `cnnkit train --no-baseline` process (so peak memory is per run). Prints,
per seed: test accuracy after every epoch, the final accuracy, the training wall time to the first
epoch at >= 99% (evaluations excluded), seconds per epoch, peak memory, and the load average
before and after (the machine should be otherwise idle). No pass/fail: the figures go in reports.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run_seed(seed: int, impl: str, extra: list[str], folder: Path) -> dict:
    """One `cnnkit train --no-baseline` process for `seed`; its metrics plus the load average."""
    out = folder / f"seed{seed}"
    load_before = os.getloadavg()[0]
    subprocess.run([sys.executable, "-m", "cnnkit.cli", "train", "--impl", impl, "--seed", str(seed),
                    "--out", str(out), "--quiet", "--no-baseline", *extra],
                   check=True, stdout=subprocess.DEVNULL)
    metrics = json.loads((out / "metrics.json").read_text())
    return {"seed": seed, "load_before": load_before, "load_after": os.getloadavg()[0],
            "peak_memory_mib": metrics["peak_memory_mib"], **metrics["results"]["cnn"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--impl", default="solutions")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="folder with the MNIST files (default: $CNNKIT_DATA, else the cache)")
    parser.add_argument("--json", type=Path, help="also write the per-seed results here")
    parser.add_argument("train_args", nargs=argparse.REMAINDER,
                        help="after --, more `cnnkit train` options (e.g. -- --epochs 2)")
    args = parser.parse_args()
    extra = [a for a in args.train_args if a != "--"]
    if args.data is not None:
        extra += ["--data", str(args.data.resolve())]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.seeds:
            r = run_seed(seed, args.impl, extra, Path(folder))
            rows.append(r)
            epochs = " ".join(f"{e['test_accuracy']:.2%}" for e in r["history"])
            to_99 = "never" if r["seconds_to_99"] is None else \
                f"{r['seconds_to_99']:.1f} s (epoch {r['epoch_to_99']})"
            per_epoch = " ".join(f"{e['seconds']:.1f}" for e in r["history"])
            print(f"seed {seed}: test accuracy per epoch {epochs} | final {r['test_accuracy']:.2%} "
                  f"| to 99%: {to_99} | training {r['train_seconds']:.1f} s, per epoch "
                  f"{per_epoch} s | peak {r['peak_memory_mib']:.0f} MiB "
                  f"| load {r['load_before']:.2f} -> {r['load_after']:.2f}", flush=True)
    finals = [r["test_accuracy"] for r in rows]
    epoch_seconds = sorted(e["seconds"] for r in rows for e in r["history"])
    print(f"{len(rows)} seeds: final accuracy min {min(finals):.2%} max {max(finals):.2%}; "
          f"median epoch {epoch_seconds[len(epoch_seconds) // 2]:.1f} s; "
          f"all >= 99%: {all(a >= 0.99 for a in finals)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
