"""Time the by-status build against the title-only build of the same couples (10^7 by default).

Draws n couples on SOC2020 units x empst3 statuses (camsis.synthetic.simulate_status_couples:
statuses 1-3 with effects on the score, plus 3% of people with status 0 or -9, so four
status values and missing ones), writes them once as .parquet under benchmarks/out/, then, each
in a fresh Python process (imports not timed), builds with the package's stage functions:

- title-only: tabulate, blank (diagonal rule of the demo + the GB psd file), build_unit_scores;
- by-status: tabulate_by_status (one pass: both tables), the same blanking, build_unit_scores
  (the title-only scale the status-0 rows need) and build_by_status_scores.

It prints wall time and the process' peak RSS for each, the load average, and the ratio
by-status / title-only against the issue's targets: at most 2x the time and 2 GB peak.

    python benchmarks/bench_by_status.py --sizes 1e7
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
SEED = 2020
RATIO_TARGET = 2.0
MEMORY_TARGET_MB = 2000.0

BUILD = textwrap.dedent(
    """
    import json, os, resource, sys, time
    from camsis.blanking import blank_cells, read_psd_file
    from camsis.classification import load_classification
    from camsis.scale import ScaleOptions, build_unit_scores
    from camsis.statuses import build_by_status_scores, load_scheme
    from camsis.tables import tabulate, tabulate_by_status
    kind, path, repo = sys.argv[1], sys.argv[2], sys.argv[3]
    soc = load_classification("soc2020", repo + "/data/classifications")
    scheme = load_scheme("empst3", repo + "/data/statuses")
    psds = read_psd_file(repo + "/data/psds/gb_soc2020.tsv")
    start = time.perf_counter()
    if kind == "title":
        title = tabulate(path, "hocc", "wocc", "weight", soc.units)
    else:
        title, table = tabulate_by_status(path, "hocc", "wocc", "weight", soc.units, "hemp", "wemp", scheme.scored)
    mask = blank_cells(soc.units, soc.units, diagonal_digits=0, diagonal_groups=[1, 2], psds=psds, classification=soc)
    scores = build_unit_scores(title, mask, mask, soc, ScaleOptions())
    if kind != "title":
        by_status = build_by_status_scores(table, mask, mask, soc, scheme, ScaleOptions())
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "load": os.getloadavg()[0]}))
    """
)


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


def build(kind: str, path: Path) -> dict:
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run([sys.executable, "-c", BUILD, kind, str(path), str(REPO)],
                          capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e7], help="numbers of couples")
    parser.add_argument("--regenerate", action="store_true", help="redraw the cached input files")
    args = parser.parse_args(argv)
    print(f"# uptime before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print("| couples | build | wall s | peak MB | load after |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        n = int(size)
        path = couples_file(n, args.regenerate)
        title = build("title", path)
        by_status = build("by_status", path)
        for name, result in (("title-only", title), ("by-status (+ its title-only scale)", by_status)):
            print(f"| {n:,} | {name} | {result['seconds']:.1f} | {result['peak_mb']:.0f} | {result['load']:.1f} |", flush=True)
        ratio = by_status["seconds"] / title["seconds"]
        met = ratio <= RATIO_TARGET and by_status["peak_mb"] <= MEMORY_TARGET_MB
        print(f"# {n:,} couples: by-status / title-only = {ratio:.2f} (target <= {RATIO_TARGET}); peak "
              f"{by_status['peak_mb']:.0f} MB (target <= {MEMORY_TARGET_MB:.0f}): {'met' if met else 'NOT met'}")
    print(f"# uptime after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()
