"""Time the by-status build against the title-only build of the same couples (10^7 by default).

Draws n couples on SOC2020 units x empst3 statuses (camsis.synthetic.simulate_status_couples:
statuses 1-3 with effects on the score, plus 3% of people with status 0 or -9, so four
status values and missing ones), writes them once as .parquet under benchmarks/out/, then runs
``python -m snakemake --cores 2`` twice in temporary copies of the working tree, bootstrap off:

- title-only: the sheet row without statuses (tabulate, blank, score_units, score_file);
- by-status: the same row with status1, status2, statuses = empst3 (the title-only jobs
  plus tabulate_by_status, score_units_by_status, score_file_by_status).

It prints each run's wall time, CPU time, the peak RSS of its largest process, the load
average before and after, and the ratio by-status / title-only, against the issue's targets:
at most 2x the title-only time and 2 GB peak.

    python benchmarks/bench_by_status.py --sizes 1e7
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_workflow import MEASURE, OUT, REPO, project_copy  # noqa: E402

SEED = 2020
RATIO_TARGET = 2.0
MEMORY_TARGET_MB = 2000.0
HEADER = "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\tdiagonal_groups\tstatus1\tstatus2\tstatuses\n"


def couples_file(n: int, regenerate: bool) -> Path:
    path = OUT / f"status_couples_{n}.parquet"
    if regenerate or not path.exists():
        from camsis.blanking import read_psd_file
        from camsis.classification import load_classification
        from camsis.synthetic import simulate_status_couples, write_couples

        start = time.perf_counter()
        classification = load_classification("soc2020", REPO / "data" / "classifications")
        blocks = read_psd_file(REPO / "data" / "psds" / "gb_soc2020.tsv")
        couples = simulate_status_couples(classification.units, n_couples=n, seed=SEED, blocks=blocks).couples
        OUT.mkdir(parents=True, exist_ok=True)
        write_couples(couples, path)
        print(f"# drew and wrote {n:,} couples in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return path


def run(data: Path, statuses: bool, cores: int) -> dict:
    directory = Path(tempfile.mkdtemp(prefix="by_status_" if statuses else "title_", dir=OUT))
    try:
        # bench_workflow's copy of the working tree (its one-row sheet is replaced below).
        project_copy(directory, data, argparse.Namespace(worktree=True, rev="HEAD"))
        status_cells = "hemp\twemp\tempst3" if statuses else "\t\t"
        row = f"bench\t{data}\thocc\twocc\tweight\tsoc2020\tdata/psds/gb_soc2020.tsv\t0\t1,2\t{status_cells}\n"
        (directory / "config" / "scales.tsv").write_text(HEADER + row)
        targets = ["results/bench/bench.dta", "results/bench/summary.json"]
        if statuses:
            targets.append("results/bench/bench_by_status.dta")
        command = [sys.executable, "-m", "snakemake", "--cores", str(cores), *targets,
                   "--config", "bootstrap=0", "plausible_values=0"]
        env = os.environ.copy()
        env["PYTHONPATH"] = os.pathsep.join([str(directory / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        done = subprocess.run([sys.executable, "-c", MEASURE, str(directory), *command],
                              capture_output=True, text=True, check=True, env=env)
        result = json.loads(done.stdout)
        if result["returncode"] != 0:
            raise SystemExit(f"snakemake failed in {directory}:\n{result['stderr']}")
        return result
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e7], help="numbers of couples")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--regenerate", action="store_true", help="redraw the cached input files")
    args = parser.parse_args(argv)
    print(f"# uptime before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print("| couples | build | wall s | CPU s | peak MB | load before/after |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        n = int(size)
        data = couples_file(n, args.regenerate)
        title = run(data, statuses=False, cores=args.cores)
        by_status = run(data, statuses=True, cores=args.cores)
        for name, result in (("title-only", title), ("with by-status", by_status)):
            print(f"| {n:,} | {name} | {result['seconds']:.1f} | {result['cpu_s']:.1f} | {result['peak_mb']:.0f} | "
                  f"{result['load'][0]:.1f}/{result['load'][1]:.1f} |", flush=True)
        ratio = by_status["seconds"] / title["seconds"]
        print(f"# {n:,} couples: by-status run / title-only run = {ratio:.2f} (target <= {RATIO_TARGET}); "
              f"peak {by_status['peak_mb']:.0f} MB (target <= {MEMORY_TARGET_MB:.0f}): "
              f"{'met' if ratio <= RATIO_TARGET and by_status['peak_mb'] <= MEMORY_TARGET_MB else 'NOT met'}")
    print(f"# uptime after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()
