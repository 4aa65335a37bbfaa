"""Many scales in one sheet: what a sheet of N scales costs against its first scale alone.

A census user builds dozens of samples from one sheet (issue 23), and each scale is several
Snakemake jobs, each a fresh Python process. This measures what that costs today, as the
baseline for restructuring the rules (issue 24): a sheet of N scales (default 24) of
``--couples`` couples each (``camsis.method.synthetic.simulate_couples`` on the 412 SOC2020 units, GB
pseudo-diagonal blocks, seeds 1..N, one .parquet per scale, drawn once and cached in
benchmarks/out/many_scales/), built with ``bootstrap=0 plausible_values=0`` by one
``snakemake --cores 2`` run in a copy of the project, against a sheet of its first scale alone
built the same way in the same run of this script.

For each sheet it prints: wall s; CPU s of the whole process tree (snakemake and every job),
and of Snakemake's own process alone (its scheduling, DAG and job bookkeeping, threads
included); the jobs run (from Snakemake's job stats); and the ratios against the one-scale
sheet (N-scale over one-scale, and per scale: over N times the one-scale figure). It also
times, in the same run, what starting one script job costs before its work begins: a
``bash -c 'set -euo pipefail; python ...'`` importing Snakemake's preamble modules and
camsis.steps (what a rule script's preamble and first line import), times the number of
script jobs: the floor that batching scales into fewer jobs could save.

Usage::

    python benchmarks/bench_many_scales.py                  # 24 scales of 20,000 couples
    python benchmarks/bench_many_scales.py --scales 6 12 24  # one baseline, three sheets
    python benchmarks/bench_many_scales.py --omit-plots      # and again without the figures (plots=False)
    python benchmarks/bench_many_scales.py --scales-per-job 1 12  # each sheet per scale, then 12 scales a job
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import OUT, REPO, soc2020

FOLDER = OUT / "many_scales"
HEADER = "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\n"
# Snakemake's main process, reporting its own CPU time (threads included, children excluded) on exit.
MAIN = ("import atexit, json, os, resource, runpy, sys\n"
        "def report():\n"
        "    u = resource.getrusage(resource.RUSAGE_SELF)\n"
        "    with open(os.environ['CAMSIS_BENCH_SELF'], 'w') as f: json.dump(u.ru_utime + u.ru_stime, f)\n"
        "atexit.register(report)\n"
        "sys.argv[0] = 'snakemake'\n"
        "runpy.run_module('snakemake', run_name='__main__', alter_sys=True)\n")
# What a `script:` job's process imports before its work: Snakemake's preamble, then the package.
JOB_START = "import pickle, snakemake.logging, snakemake.iocontainers, camsis.runner, camsis.steps"


def couples_files(n_scales: int, couples: int) -> list[Path]:
    """One .parquet of ``couples`` synthetic couples per scale (seed k for scale k), drawn once."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    paths = [FOLDER / f"couples_{couples}_{seed}.parquet" for seed in range(1, n_scales + 1)]
    missing = [p for p in paths if not p.exists()]
    if missing:
        from camsis.method.synthetic import simulate_couples, write_couples

        classification, blocks = soc2020()
        for path in missing:
            seed = int(path.stem.rsplit("_", 1)[1])
            write_couples(simulate_couples(classification.units, n_couples=couples, seed=seed, blocks=blocks).couples,
                          path)
    return paths


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def job_stats(output: str) -> dict[str, int]:
    """Rule -> jobs, from the 'Job stats' table Snakemake prints when it starts."""
    stats = output[output.index("Job stats:"):].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", stats, re.MULTILINE)}


def build_sheet(paths: list[Path], folder: Path, per_job: int = 1, figures: bool = True) -> dict:
    """Build the sheet of one scale per file in a fresh copy of the project, ``per_job`` scales a job,
    with or without the plots; its figures."""
    for part in ("Snakefile", "workflow", "config", "data"):
        (shutil.copytree if (REPO / part).is_dir() else shutil.copy)(REPO / part, folder / part)
    rows = "".join(f"s{k:02d}\t{path}\thocc\twocc\tweight\tsoc2020\tdata/psds/gb_soc2020.tsv\t0\n"
                   for k, path in enumerate(paths, start=1))
    (folder / "config/many.tsv").write_text(HEADER + rows)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), CAMSIS_BENCH_SELF=str(folder / "self_cpu.json"))
    load, cpu, start = os.getloadavg()[0], children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MAIN, "--cores", "2", "--config", "scales=config/many.tsv",
                           "bootstrap=0", "plausible_values=0", f"scales_per_job={per_job}", f"plots={figures}"],
                          cwd=folder, capture_output=True, text=True, env=env)
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(done.stderr[-4000:])
    jobs = job_stats(done.stdout + done.stderr)
    return {"scales": len(paths), "figures": figures, "per_job": per_job, "wall": wall, "cpu": cpu,
            "snakemake_cpu": json.loads((folder / "self_cpu.json").read_text()),
            "jobs": sum(n for rule, n in jobs.items() if rule != "all"), "per_rule": jobs,
            "load": (load, os.getloadavg()[0])}


def job_start_cpu(repeats: int = 5) -> tuple[float, float]:
    """Wall and CPU seconds of starting one script job's process (bash, python, its imports), mean of ``repeats``."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    command = ["bash", "-c", f"set -euo pipefail; {sys.executable} -c '{JOB_START}'"]
    cpu, start = children_cpu(), time.perf_counter()
    for _ in range(repeats):
        subprocess.run(command, check=True, env=env, cwd=tempfile.gettempdir())
    return (time.perf_counter() - start) / repeats, (children_cpu() - cpu) / repeats


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[24], help="sheets of these many scales")
    parser.add_argument("--couples", type=int, default=20_000, help="couples per scale")
    parser.add_argument("--scales-per-job", type=int, nargs="+", default=[1],
                        help="build every sheet with each of these scales_per_job (config), in the same run")
    parser.add_argument("--omit-plots", action="store_true",
                        help="also build every sheet with plots=False (no figures), in the same run")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    paths = couples_files(max(args.scales), args.couples)
    start_wall, start_cpu = job_start_cpu()
    results = []
    for per_job in args.scales_per_job:
        for figures in (True, False) if args.omit_plots else (True,):
            for n in [1, *args.scales]:
                with tempfile.TemporaryDirectory(dir=OUT) as folder:
                    results.append(build_sheet(paths[:n], Path(folder), per_job, figures))
                print(f"  built {n} scale(s), {per_job} a job, plots={figures}: {results[-1]['wall']:.1f} s",
                      file=sys.stderr)
    print(f"{args.couples:,} couples a scale, bootstrap=0, snakemake --cores 2 on {os.cpu_count()} CPUs")
    print(f"starting one script job (bash + python + Snakemake preamble + camsis.steps imports): "
          f"{start_wall:.2f} s wall, {start_cpu:.2f} s CPU")
    print(f"{'scales':>6} {'per job':>7} {'figures':>7} {'wall s':>7} {'CPU s':>7} {'snakemake':>9} {'jobs':>5} {'starts':>6} | {'wall/1':>6} {'CPU/1':>6}"
          f" {'wall/N.1':>8} {'CPU/N.1':>7} | load")
    ones = {(r["per_job"], r["figures"]): r for r in results if r["scales"] == 1}
    for r in results:
        n, one = r["scales"], ones[r["per_job"], r["figures"]]
        starts = start_cpu * r["jobs"]
        print(f"{n:>6} {r['per_job']:>7} {'yes' if r['figures'] else 'no':>7} {r['wall']:7.1f} {r['cpu']:7.1f} {r['snakemake_cpu']:9.1f} {r['jobs']:>5} {starts:6.1f} |"
              f" {r['wall'] / one['wall']:6.2f} {r['cpu'] / one['cpu']:6.2f} {r['wall'] / (n * one['wall']):8.2f}"
              f" {r['cpu'] / (n * one['cpu']):7.2f} | {r['load'][0]:.1f} -> {r['load'][1]:.1f}")
    print("CPU s: snakemake and all its jobs; snakemake: its own process alone; starts: jobs x one job's start CPU;"
          " wall/1, CPU/1: over the one-scale sheet built the same way (scales per job, figures or not); wall/N.1, CPU/N.1: over N times it (1.00: no saving per scale)")
    print("jobs per rule:", "; ".join(f"{r['scales']} ({r['per_job']} per job): " + ", ".join(f"{rule} {k}" for rule, k in r["per_rule"].items()
                                                                      if rule != "all") for r in results))


if __name__ == "__main__":
    main()
