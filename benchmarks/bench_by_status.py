"""Time the by-status build against the title-only build of the same couples (10^7 by default).

Draws n couples on SOC2020 units x empst3 statuses (camsis.method.synthetic.simulate_status_couples:
statuses 1-3 with effects on the score, plus 3% of people with status 0 or -9, so four
status values and missing ones), writes them once as .parquet under benchmarks/out/, then runs
each build in a fresh Python process (imports not timed), calling the functions the workflow's
rule scripts call (camsis.steps), one after the other, with their files in a temporary folder:

- title-only: tabulate, blank (the demo's diagonal rule and the GB psd file), score_units
  (with its ranking of pseudo-diagonal candidates), score_file;
- by-status: tabulate for both variants (the title-only table, and the by-status one from a
  second reading of the input, as the workflow's two tabulate jobs do), blank, score_units for
  both (the title-only scale: the by-status file's status-0 rows), score_file for both (the
  title-only one also reads the by-status table's counts for summary.json). With
  ``--baseline REV`` from a revision with the *_by_status steps, the baseline's by-status build
  is what its rules did (one reading for both tables where its tabulate_by_status wrote both).

Each build runs with the BLAS and OpenMP thread variables Snakemake sets for a job of a rule
with ``threads: 1`` (every rule here has 1; ``--threads`` changes it, 0 keeps the environment's:
on a busy machine a second BLAS thread spinning for a core made the CA of the by-status table
several times slower). For each build it prints the wall and CPU time (user + system of the
process), the process' peak RSS and each step's wall and CPU time, the load average, and the ratio
by-status / title-only of wall and of CPU time against the issue's targets: at most 2x the time
and 2 GB peak. Snakemake's start-up and one Python start per job are not included (the
workflow benchmark, bench_workflow.py, measures those).

``--workflow`` also times both builds end to end as a user runs them: ``python -m snakemake
--cores 2`` in a copy of the project whose sheet has the one scale (with or without its status
columns), building its score files and summary.json (bootstrap, plausible values and psd rounds
off, as in bench_workflow.py): Snakemake, one Python start per job and the jobs that run side
by side on 2 cores are then in the figures.

``--repeats N`` reports the fastest of N builds of each kind. ``--baseline REV`` builds both again
with the package of commit REV (``git archive`` of its ``src/`` under benchmarks/out/), in the
same run, and prints the ratios to it.

    python benchmarks/bench_by_status.py --sizes 1e7 --repeats 3 [--workflow] [--baseline REV]
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

from _common import OUT, REPO, soc2020

SEED = 2020
RATIO_TARGET = 2.0
MEMORY_TARGET_MB = 2000.0

BUILD = textwrap.dedent(
    """
    import inspect, json, os, resource, sys, tempfile, time
    from pathlib import Path
    from camsis import steps
    from camsis.scaling.scale import ScaleOptions
    def reading_cells(steps, **cells):
        # the reading cells as the measured revision's steps take them: one InputSpec, or keywords before it
        return ((steps.InputSpec(**cells),), {}) if hasattr(steps, "InputSpec") else ((), cells)
    kind, data, repo = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    classification = [repo / "data/classifications/soc2020.tsv", repo / "data/classifications/soc2020.yaml"]
    scheme = [repo / "data/statuses/empst3.tsv", repo / "data/statuses/empst3.yaml"]
    psds = str(repo / "data/psds/gb_soc2020.tsv")
    row = {"scale": "bench", "input": data, "occ1": "hocc", "occ2": "wocc", "weight": "weight",
           "classification": "soc2020", "psds": psds, "diagonal_digits": "0", "diagonal_groups": "1,2"}
    if kind != "title":
        row |= {"status1": "hemp", "status2": "wemp", "statuses": "empst3"}
    options = {"min_n": 30.0}
    times = {}
    with tempfile.TemporaryDirectory() as folder:
        f = Path(folder)
        def step(name, function, *args, **kwargs):
            begin, begin_cpu = time.perf_counter(), time.process_time()
            function(*args, **kwargs)
            times[name] = (time.perf_counter() - begin, time.process_time() - begin_cpu)
        wall, cpu = time.perf_counter(), time.process_time()
        # Revisions before the by-status variant of the rules had steps named *_by_status (and, before
        # that, a tabulate_by_status that wrote only the by-status table); the working tree's steps
        # take the status scheme as a keyword.
        twins = hasattr(steps, "tabulate_by_status")
        one_reading = twins and "title_table" in inspect.signature(steps.tabulate_by_status).parameters
        if kind == "title" or not one_reading:
            args, kwargs = reading_cells(steps, occ1="hocc", occ2="wocc", weight="weight")
            step("tabulate", steps.tabulate, data, classification, f / "table.parquet", f / "table.json", *args, **kwargs)
        if kind == "by_status":
            args, kwargs = reading_cells(steps, occ1="hocc", occ2="wocc", status1="hemp", status2="wemp", weight="weight")
            if twins:
                tables = [f / "table.parquet", f / "table.json"] if one_reading else []
                step("tabulate_by_status", steps.tabulate_by_status, data, classification, scheme, *tables,
                     f / "bs_table.parquet", f / "bs_table.json", *args, **kwargs)
            else:
                step("tabulate by status", steps.tabulate, data, classification, f / "bs_table.parquet",
                     f / "bs_table.json", *args, scheme=scheme, **kwargs)
        step("blank", steps.blank, f / "table.parquet", f / "table.json", classification, f / "blanked.parquet",
             f / "blanking.json", scale="bench", diagonal_digits=0, diagonal_groups="1,2", psds=psds)
        files = (f / "table.parquet", f / "table.json", f / "blanked.parquet", classification)
        files = (steps.ScaleFiles(*files),) if hasattr(steps, "ScaleFiles") else files  # or before it
        step("score_units", steps.score_units, *files, f / "unit_scores.tsv", f / "scaling.json", f / "ranking.tsv", **options)
        by_status = {}
        if kind == "by_status":
            if twins:
                step("score_units_by_status", steps.score_units_by_status, f / "bs_table.parquet", f / "bs_table.json",
                     f / "blanked.parquet", classification, scheme, f / "bs_unit_scores.tsv", f / "bs_scaling.json",
                     **options)
            else:
                status_files = steps.ScaleFiles(f / "bs_table.parquet", f / "bs_table.json", f / "blanked.parquet",
                                                classification)
                step("score_units by status", steps.score_units, status_files, f / "bs_unit_scores.tsv",
                     f / "bs_scaling.json", f / "bs_ranking.tsv", scheme=scheme, **options)
            by_status = {"by_status_table": f / "bs_table.json", "by_status_scaling": f / "bs_scaling.json"}
        records, extras = ((steps.BuildRecords(f / "table.json", f / "blanking.json", **by_status),), {}) \
            if hasattr(steps, "BuildRecords") else ((f / "table.json", f / "blanking.json"), by_status)  # or before it
        provenance, made = ((steps.Provenance("bench", row, options),), {}) if hasattr(steps, "Provenance") \
            else ((), dict(scale="bench", sheet_row=row, config=options))  # or before it
        step("score_file", steps.score_file, f / "unit_scores.tsv", f / "scaling.json", *records, classification,
             f / "bench.dta", f / "bench.csv", f / "summary.json", *provenance, **made, **extras)
        if kind == "by_status" and twins:
            step("score_file_by_status", steps.score_file_by_status, f / "bs_unit_scores.tsv", f / "bs_scaling.json",
                 f / "bs_table.json", f / "bench.csv", classification, scheme, f / "bench_by_status.dta",
                 f / "bench_by_status.csv", *provenance, **made)
        elif kind == "by_status":
            step("score_file by status", steps.score_file, f / "bs_unit_scores.tsv", f / "bs_scaling.json",
                 steps.BuildRecords(f / "bs_table.json", f / "blanking.json"), classification, f / "bench_by_status.dta",
                 f / "bench_by_status.csv", f / "summary_by_status.json", *provenance, scheme=scheme,
                 title_csv=f / "bench.csv")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        pairs = json.loads((f / "table.json").read_text())["used"]
    print(json.dumps({"seconds": wall, "cpu": cpu, "steps": times, "pairs": pairs,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "load": os.getloadavg()[0]}))
    """
)


def couples_file(n: int, regenerate: bool) -> Path:
    path = OUT / f"status_couples_{n}.parquet"
    if regenerate or not path.exists():
        from camsis.method.synthetic import simulate_status_couples, write_couples

        start = time.perf_counter()
        classification, blocks = soc2020()
        couples = simulate_status_couples(classification.units, n_couples=n, seed=SEED, blocks=blocks).couples
        OUT.mkdir(parents=True, exist_ok=True)
        write_couples(couples, path)
        print(f"# drew and wrote {n:,} couples in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return path


# What Snakemake sets for a job (snakemake/shell.py) to the rule's threads: 1 for every rule timed here.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def build(kind: str, path: Path, threads: int | None, src: Path = REPO / "src") -> dict:
    env = os.environ.copy()
    if threads:
        env |= dict.fromkeys(THREAD_VARIABLES, str(threads))
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run([sys.executable, "-c", BUILD, kind, str(path), str(REPO)],
                          capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"the {kind} build failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def workflow_build(kind: str, path: Path, repeats: int) -> dict:
    """The fastest of ``repeats`` end-to-end Snakemake runs of the one scale (bench_workflow.py's measuring)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_workflow

    options = argparse.Namespace(worktree=True, rev="HEAD", keep=False)
    header = "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\tdiagonal_groups"
    row = f"bench\t{path}\thocc\twocc\tweight\tsoc2020\tdata/psds/gb_soc2020.tsv\t0\t1,2"
    products = ["bench.dta", "bench.csv", "summary.json"]
    if kind == "by_status":
        header, row = header + "\tstatus1\tstatus2\tstatuses", row + "\themp\twemp\tempst3"
        products += ["bench_by_status.dta", "bench_by_status.csv"]

    def prepare(directory: Path) -> list[str]:
        bench_workflow.extract_project(directory, options)
        (directory / "config" / "scales.tsv").write_text(header + "\n" + row + "\n")
        return [sys.executable, "-m", "snakemake", "--cores", "2", *(f"results/bench/{p}" for p in products),
                "--config", "bootstrap=0", "plausible_values=0", "psd_rounds=0"]

    runs = []
    for _ in range(max(repeats, 1)):
        directory, result = bench_workflow.measured_snakemake(f"by_status_{kind}_", prepare, options)
        bench_workflow.discard(directory, options)
        runs.append(result)
    return min(runs, key=lambda r: r["seconds"])


def source_of(rev: str) -> Path:
    """The package of commit ``rev`` (git archive of its src/), to time it beside the working tree's."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.strip()
    folder = OUT / f"src-{sha}"
    if not (folder / "src" / "camsis").exists():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha, "src"], cwd=REPO, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


def fastest(kind: str, path: Path, threads: int | None, repeats: int, src: Path = REPO / "src") -> dict:
    """The fastest (wall time) of ``repeats`` fresh builds: other work on a shared machine only slows one down."""
    return min((build(kind, path, threads, src) for _ in range(max(repeats, 1))), key=lambda r: r["seconds"])


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e7], help="numbers of couples")
    parser.add_argument("--regenerate", action="store_true", help="redraw the cached input files")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP threads of each build, set as Snakemake sets them for a job of a rule "
                             "with that many threads (every rule timed here has 1); 0 leaves the environment as is")
    parser.add_argument("--baseline", metavar="REV",
                        help="also build with the package of commit REV (e.g. one before a speed-up), in the same "
                             "run, and print each build's time relative to it")
    parser.add_argument("--repeats", type=int, default=1, help="builds of each kind; the fastest is reported")
    parser.add_argument("--workflow", action="store_true",
                        help="also time both builds end to end with snakemake --cores 2 in a copy of the project")
    args = parser.parse_args(argv)
    print(f"# uptime before: {uptime()}")
    baseline = source_of(args.baseline) if args.baseline else None
    threads = str(args.threads) if args.threads else os.environ.get("OPENBLAS_NUM_THREADS", "unset (library default)")
    print(f"# BLAS threads per build: {threads}; {os.cpu_count()} CPUs")
    print("| couples | build | wall s | CPU s | peak MB | load after | steps (wall s / CPU s) |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        n = int(size)
        path = couples_file(n, args.regenerate)
        title = fastest("title", path, args.threads, args.repeats)
        by_status = fastest("by_status", path, args.threads, args.repeats)
        builds = [("title-only", title), ("by-status (+ its title-only scale)", by_status)]
        for name, result in builds:
            steps = ", ".join(f"{step} {wall:.2f}/{cpu:.2f}" for step, (wall, cpu) in result["steps"].items())
            print(f"| {n:,} | {name} | {result['seconds']:.1f} | {result['cpu']:.1f} | {result['peak_mb']:.0f} "
                  f"| {result['load']:.1f} | {steps} |", flush=True)
        ratio = by_status["seconds"] / title["seconds"]
        cpu_ratio = by_status["cpu"] / title["cpu"]
        met = ratio <= RATIO_TARGET and by_status["peak_mb"] <= MEMORY_TARGET_MB
        print(f"# {n:,} couples: by-status / title-only = {ratio:.2f} wall, {cpu_ratio:.2f} CPU "
              f"(target <= {RATIO_TARGET}); peak {by_status['peak_mb']:.0f} MB (target <= {MEMORY_TARGET_MB:.0f}): "
              f"{'met' if met else 'NOT met'}")
        if args.workflow:
            runs = {kind: workflow_build(kind, path, args.repeats) for kind in ("title", "by_status")}
            for kind, name in (("title", "title-only"), ("by_status", "by-status (+ its title-only scale)")):
                run = runs[kind]
                print(f"# {n:,} couples, snakemake --cores 2, {name}: {run['seconds']:.1f} s wall, "
                      f"{run['cpu_s']:.1f} s CPU, peak {run['peak_mb']:.0f} MB (largest process)", flush=True)
            ratio = runs["by_status"]["seconds"] / runs["title"]["seconds"]
            met = ratio <= RATIO_TARGET and runs["by_status"]["peak_mb"] <= MEMORY_TARGET_MB
            print(f"# {n:,} couples end to end: by-status / title-only = {ratio:.2f} wall, "
                  f"{runs['by_status']['cpu_s'] / runs['title']['cpu_s']:.2f} CPU (target <= {RATIO_TARGET}): "
                  f"{'met' if met else 'NOT met'}", flush=True)
        if baseline:
            for kind, name, now in (("title", "title-only", title), ("by_status", "by-status", by_status)):
                then = fastest(kind, path, args.threads, args.repeats, baseline)
                steps = ", ".join(f"{step} {wall:.2f}/{cpu:.2f}" for step, (wall, cpu) in then["steps"].items())
                print(f"# {n:,} couples, {name} with {args.baseline}: {then['seconds']:.1f} s wall, {then['cpu']:.1f} s "
                      f"CPU ({steps}); this tree / {args.baseline}: {now['seconds'] / then['seconds']:.2f} wall, "
                      f"{now['cpu'] / then['cpu']:.2f} CPU", flush=True)
    print(f"# uptime after: {uptime()}")


if __name__ == "__main__":
    main()
