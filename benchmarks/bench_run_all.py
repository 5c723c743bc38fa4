"""Wall time of the whole study, per preset, on this machine.

Runs ``python -m study.run_all`` from scratch (a fresh output folder, so nothing is reused)
for each preset asked for, and prints one line per run::

    preset=<name> jobs=<n> wall_s=<s> cells=<n> compute_s=<s> replication_s=<s> checks_s=<s>
    render_s=<s>

The per-stage seconds come from the run's own manifest. Usage::

    python benchmarks/bench_run_all.py --preset quick --preset full --jobs 2 [--data-dir data]

This is a measurement, not a test: machines are noisy, so nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(preset: str, jobs: int, data_dir: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "study.run_all", "--preset", preset,
                        "--jobs", str(jobs), "--data-dir", data_dir, "--out", str(out),
                        "--quiet"], check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        timings = json.loads((out / "manifest.json").read_text())["timings_s"]
    stages = " ".join(f"{k}={timings[k]:.1f}" for k in ("compute_s", "replication_s", "checks_s",
                                                      "render_s") if k in timings)
    return (f"preset={preset} jobs={jobs} wall_s={wall:.1f} "
            f"cells={timings.get('cells_computed', 0)} {stages}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", choices=["quick", "full"])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args()
    for preset in args.preset or ["quick"]:
        print(run(preset, args.jobs, args.data_dir), flush=True)


if __name__ == "__main__":
    main()
