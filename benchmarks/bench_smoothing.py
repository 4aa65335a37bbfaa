"""One-level vs nested smoothing on the demo: recovery of the truth and the cost of a build.

    python benchmarks/bench_smoothing.py [--project DIR] [--repeats 5] [--workflow]

DIR is a project copy in which the demo's table, by-status table, masks and truth are built
(``results/gb_soc2020_demo/work/...``, ``resources/demo/...``); without it they are built
with Snakemake in benchmarks/out/smoothing. For each smoothing method the title-only and the
by-status stages 4-7 (``build_unit_scores``, ``build_by_status_scores``: merge, CA, both
dimensions smoothed, filling, standardising) are built ``--repeats`` times in this process,
alternating methods, and the fastest of each is reported with its ratio to one_level. Recovery
is the correlation of each side's score with the simulator's truth over the units with 1-9,
10-29, 30-99 and 100+ pairs of their own (the unit's ``n_m``/``n_f``), and over all scored units.
A bootstrap replicate's rebuild (first dimension only) is timed the same way.

``--workflow`` also runs the whole demo build (``snakemake --cores 2``: every scale, the
bootstrap of config.yaml, plots, score files) once per method, one after the other, in copies
of the project under benchmarks/out/smoothing_workflow/, and reports the CPU seconds of
Snakemake and all its jobs (user + system of the child processes) and their ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCALE = "gb_soc2020_demo"
BANDS = [(1, 9), (10, 29), (30, 99), (100, np.inf)]
METHODS = ("one_level", "nested")


def demo_project(project: Path | None) -> Path:
    if project is not None:
        return project
    out = ROOT / "benchmarks" / "out" / "smoothing"
    work = out / "results" / SCALE / "work"
    if not (work / "by_status" / "table.parquet").exists():
        out.mkdir(parents=True, exist_ok=True)
        for name in ("Snakefile", "config", "data", "workflow"):
            target = out / name
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, target)
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2",
                        f"results/{SCALE}/work/table.parquet", f"results/{SCALE}/work_by_status/table.parquet",
                        f"results/{SCALE}/work/blanked.parquet", f"resources/demo/{SCALE}_truth.tsv"],
                       cwd=out, env=env, check=True)
    return out


def workflow_cost(method: str) -> float:
    """CPU s of a whole demo build with ``smoothing: method``, in a fresh copy of the project."""
    out = ROOT / "benchmarks" / "out" / "smoothing_workflow" / method
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in ("Snakefile", "config", "data", "workflow"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, out / name)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--config", f"smoothing={method}"],
                   cwd=out, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def recovery(scores: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Correlation of each side's score with the truth, by the unit's own pairs."""
    out = {}
    for side, true in (("m", "male_score"), ("f", "female_score")):
        both = pd.DataFrame({"score": scores[f"{side}camsis"], "n": scores[f"n_{side}"]}).join(truth[true], how="inner")
        for lo, hi in BANDS + [(1, np.inf)]:
            band = both[(both["n"] >= lo) & (both["n"] <= hi)]
            label = "all" if (lo, hi) == (1, np.inf) else (f"{lo}-{hi:g}" if np.isfinite(hi) else f"{lo}+")
            r = band["score"].corr(band[true]) if len(band) > 2 else np.nan
            out[(side, label)] = (r, len(band))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workflow", action="store_true", help="also time the whole demo build per method")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from camsis.method.blanking import load_masks
    from camsis.classifications.classification import load_classification
    from camsis.scaling.scale import ScaleOptions, build_unit_scores
    from camsis.scaling.by_status import build_by_status_scores
    from camsis.classifications.statuses import by_status_classification, load_scheme
    from camsis.method.pairtable import PairTable

    project = demo_project(args.project)
    work = project / "results" / SCALE / "work"
    soc = load_classification("soc2020", ROOT / "data" / "classifications")
    scheme = load_scheme("empst3", ROOT / "data" / "statuses")
    derived = by_status_classification(soc, scheme)
    table = PairTable.load(work / "table.parquet", work / "table.json", soc.units)
    status_table = PairTable.load(work / "by_status" / "table.parquet", work / "by_status" / "table.json", derived.units)
    ca_blank, smooth_blank = load_masks(work / "blanked.parquet", soc.units)
    truth = pd.read_csv(project / "resources" / "demo" / f"{SCALE}_truth.tsv", sep="\t", index_col=0)
    status_truth = pd.read_csv(project / "resources" / "demo" / f"{SCALE}_truth_by_status.tsv", sep="\t", index_col=0)

    builds = {
        "title": lambda options: build_unit_scores(table, ca_blank, smooth_blank, soc, options),
        "replicate": lambda options: build_unit_scores(table, ca_blank, smooth_blank, soc,
                                                       replace(options, second_dimension=False)),
        "by_status": lambda options: build_by_status_scores(status_table, ca_blank, smooth_blank, soc, scheme, options),
    }
    times = {(b, m): [] for b in builds for m in METHODS}
    results = {}
    for _ in range(args.repeats):
        for build, run in builds.items():
            for method in METHODS:
                options = replace(ScaleOptions(), smoothing=method)
                start = time.process_time()
                results[build, method] = run(options)
                times[build, method].append(time.process_time() - start)

    print(f"load: {os.getloadavg()[0]:.2f} (1 min), repeats {args.repeats}, CPU s of stages 4-7 (fastest)")
    for build in builds:
        base = min(times[build, "one_level"])
        for method in METHODS:
            best = min(times[build, method])
            print(f"  {build:10s} {method:10s} {best:7.3f} s  x{best / base:.3f}")
    if args.workflow:
        costs = {method: workflow_cost(method) for method in METHODS}
        print(f"\nwhole demo build (snakemake --cores 2), CPU s; load {os.getloadavg()[0]:.2f}")
        for method in METHODS:
            print(f"  {method:10s} {costs[method]:8.1f} s  x{costs[method] / costs['one_level']:.3f}")
    for build, truth_of in (("title", truth), ("by_status", status_truth)):
        print(f"\nrecovery, {build}: r with the truth (units)")
        table_rows = {method: recovery(results[build, method].scores, truth_of) for method in METHODS}
        keys = list(table_rows["one_level"])
        print("  " + "side band      " + "".join(f"{m:>20s}" for m in METHODS))
        for key in keys:
            cells = "".join(f"{table_rows[m][key][0]:14.3f} ({table_rows[m][key][1]:4d})" for m in METHODS)
            print(f"  {key[0]:4s} {key[1]:9s}{cells}")
    for method in METHODS:
        for side in ("m", "f"):
            summary = results["title", method].diagnostics.smoothing[side]
            levels = summary.get("levels") or [{"name": "unit", "sigma": summary["sigma_u"]}]
            print(f"\n{method} {side}: sigma_e {summary['sigma_e']:.4f}; "
                  + ", ".join(f"{level['name']} {level['sigma']:.4f}" for level in levels))


if __name__ == "__main__":
    main()
