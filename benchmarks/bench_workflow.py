"""Time the whole workflow on 10^5 to 10^7 synthetic couples, beside reading the file alone.

For each size the script draws couples on the SOC2020 units (camsis.method.synthetic, with the
GB pseudo-diagonal blocks), writes them as .dta (pyreadstat, labelled, as a survey
file is) and .parquet, and caches them under benchmarks/out/. For each size and format:

- read alone: the three columns the workflow uses (hocc, wocc, weight) read in one go by
  pyreadstat and by pandas.read_stata (the reader camsis uses) for .dta, by pyarrow for
  .parquet, each in a fresh subprocess; the time of the read call and the process' peak RSS;
- workflow: ``python -m snakemake --cores 2`` in a temporary copy of the project whose
  scales sheet has one weighted row pointing at the file and whose rules carry a
  ``benchmark:`` line; wall time of the command and peak RSS of the largest process in it;
- stages: each rule's wall time and max RSS from Snakemake's benchmark files. A rule's
  time includes starting Python and importing camsis in its job; "snakemake" is the
  wall time not spent in any job (DAG building, scheduling, checking outputs).

    python benchmarks/bench_workflow.py --sizes 1e5 1e6 1e7 --formats dta parquet

It ends with the issue's targets (10^7 couples): .dta end to end in at most twice the
pyreadstat read-alone time with a peak of at most 2 GB; .parquet end to end under 15 s.
Files are read from the page cache (they were just written or read), as in repeated use.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import OUT, REPO, soc2020

PROJECT_PARTS = ["Snakefile", "workflow", "config", "data", "src"]
# Per-scale extras whose cost does not depend on the number of couples (they work on the table).
OFF_UNLESS_ALL = ["bootstrap", "plausible_values"]
RULES = ["tabulate", "blank", "score_units", "score_file"]
COLUMNS = ["hocc", "wocc", "weight"]
SEED = 2020

DTA_TARGET_RATIO = 2.0
MEMORY_TARGET_MB = 2000.0
PARQUET_TARGET_S = 15.0

# Run in a fresh interpreter: imports first, then only the read call is timed.
READ_ALONE = textwrap.dedent(
    """
    import json, resource, sys, time
    reader, path, columns = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    if reader == "pyreadstat":
        import pyreadstat
        read = lambda: pyreadstat.read_dta(path, usecols=columns)[0]
    elif reader == "pandas":
        import pandas as pd
        read = lambda: pd.read_stata(path, columns=columns, convert_categoricals=False)
    else:
        import pyarrow.dataset, pyarrow.parquet as pq  # read_table imports pyarrow.dataset lazily
        read = lambda: pq.read_table(path, columns=columns)
    start = time.perf_counter()
    rows = len(read())
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_mb": peak_kb / 1024}))
    """
)

# Run a command and report its wall time, the CPU time of its process tree, the peak RSS of the
# largest process in the tree and the 1-minute load average before and after.
MEASURE = textwrap.dedent(
    """
    import json, os, resource, subprocess, sys, time
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(sys.argv[2:], cwd=sys.argv[1], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024,
                      "load": [load, os.getloadavg()[0]], "returncode": done.returncode, "stderr": done.stderr[-4000:]}))
    """
)


def couples_files(n: int, formats: list[str], regenerate: bool) -> dict[str, Path]:
    """Cached input files of n couples, drawn once per size and written in each format."""
    paths = {fmt: OUT / f"couples_{n}.{fmt}" for fmt in formats}
    todo = [fmt for fmt, path in paths.items() if regenerate or not path.exists()]
    if todo:
        from camsis.method.synthetic import simulate_couples, write_couples

        start = time.perf_counter()
        classification, blocks = soc2020()
        couples = simulate_couples(classification.units, n, seed=SEED, blocks=blocks).couples
        print(f"# drew {n:,} couples in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        for fmt in todo:
            start = time.perf_counter()
            write_couples(couples, paths[fmt])
            print(f"# wrote {paths[fmt].name} in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return paths


def read_alone(reader: str, path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", READ_ALONE, reader, str(path), ",".join(COLUMNS)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(done.stdout)


def extract_project(target: Path, args) -> None:
    """The project's files at args.rev (git archive), or as in the working tree with --worktree."""
    if args.worktree:
        sys.path.insert(0, str(REPO / "tests"))
        from helpers import project_copy as copy_worktree  # the tests' copy of the project, the same files

        copy_worktree(target, parts=PROJECT_PARTS)
    else:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.rev, *PROJECT_PARTS],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


def project_copy(target: Path, data: Path, args) -> Path:
    """The project at args.rev (or the working tree) with a one-row weighted scales sheet and a
    benchmark file per rule; its src/ is put first on the jobs' PYTHONPATH."""
    extract_project(target, args)
    header = "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\tdiagonal_groups\tpsds_smooth\trecodes\n"
    row = f"bench\t{data}\thocc\twocc\tweight\tsoc2020\tdata/psds/gb_soc2020.tsv\t0\t1,2\t\t\n"
    (target / "config" / "scales.tsv").write_text(header + row)
    for rules in (target / "workflow" / "rules").glob("*.smk"):
        text = re.sub(
            r"(?m)^rule (\w+):\n",
            lambda m: f'rule {m[1]}:\n    benchmark:\n        "benchmarks/{{scale}}/{m[1]}.tsv"\n'
            if m[1] in RULES else m[0],
            rules.read_text(),
        )
        rules.write_text(text)
    return target


def snakemake_command(target: Path, args) -> list[str]:
    """Build the scale's products; extras that do not scale with the couples stay off unless --all."""
    command = [sys.executable, "-m", "snakemake", "--cores", str(args.cores)]
    config = (target / "config" / "config.yaml").read_text()
    overrides = [f"chunksize={args.chunksize}"] if args.chunksize else []
    if not args.all:
        overrides += [f"{key}=0" for key in OFF_UNLESS_ALL if re.search(rf"(?m)^{key}:", config)]
        command += [f"results/bench/bench.{ext}" for ext in ("dta", "csv")] + ["results/bench/summary.json"]
    return command + (["--config", *overrides] if overrides else [])


def measured_snakemake(prefix: str, prepare, args) -> tuple[Path, dict]:
    """Run the Snakemake command ``prepare(directory)`` returns in a fresh project directory, under MEASURE.

    ``prepare`` copies the project into the directory and returns the command. Returns the
    directory and MEASURE's figures (wall, CPU, peak RSS); without --worktree the copy's own
    src/ is imported. The caller ``discard``s the directory when done with it; a failed run
    stops the benchmark with Snakemake's error (its directory kept for a look).
    """
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir=OUT))
    command = prepare(directory)
    env = os.environ.copy()
    if not args.worktree:
        env["PYTHONPATH"] = os.pathsep.join([str(directory / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run([sys.executable, "-c", MEASURE, str(directory), *command],
                          capture_output=True, text=True, check=True, env=env)
    result = json.loads(done.stdout)
    if result["returncode"] != 0:
        raise SystemExit(f"snakemake failed in {directory}:\n{result['stderr']}")
    return directory, result


def discard(directory: Path, args) -> None:
    """Remove a run's directory, or keep it and say where (--keep)."""
    if args.keep:
        print(f"# kept {directory}", file=sys.stderr)
    else:
        shutil.rmtree(directory, ignore_errors=True)


def run_workflow(data: Path, args) -> dict:
    def prepare(directory: Path) -> list[str]:
        project_copy(directory, data, args)
        return snakemake_command(directory, args)

    directory, result = measured_snakemake(f"workflow_{data.stem}_{data.suffix[1:]}_", prepare, args)
    try:
        result["stages"] = {}
        for rule in RULES:
            result["stages"][rule] = read_benchmark(directory / "benchmarks" / "bench" / f"{rule}.tsv")
        result["snakemake_s"] = result["seconds"] - sum(s["seconds"] for s in result["stages"].values())
        return result
    finally:
        discard(directory, args)


def read_benchmark(path: Path) -> dict:
    """Wall seconds, peak MB and CPU seconds of one job from its Snakemake ``benchmark:`` file."""
    with open(path) as handle:
        record = next(csv.DictReader(handle, delimiter="\t"))
    return {"seconds": float(record["s"]), "peak_mb": float(record["max_rss"]), "cpu_s": float(record["cpu_time"])}


def measure(n: int, fmt: str, path: Path, args) -> dict:
    readers = ["pyreadstat", "pandas"] if fmt == "dta" else ["pyarrow"]
    reads = {reader: min((read_alone(reader, path) for _ in range(args.repeats)), key=lambda r: r["seconds"])
             for reader in readers}
    runs = [run_workflow(path, args) for _ in range(args.repeats)]
    workflow = min(runs, key=lambda r: r["seconds"])
    peak = max(r["peak_mb"] for r in runs)
    return {"n": n, "format": fmt, "file_mb": path.stat().st_size / 2**20, "reads": reads,
            "workflow": workflow, "peak_mb": peak}


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(results: list[dict]) -> str:
    head = (f"{'couples':>10} {'format':>7} {'file MB':>8} | {'read s: pyreadstat':>18} {'pandas':>7} {'pyarrow':>7} |"
            f" {'workflow s':>10} {'CPU s':>6} {'wf/read':>7} {'wf/pandas':>9} | {'tabulate':>8} {'blank':>6} {'score_units':>11}"
            f" {'score_file':>10} {'snakemake':>9} | {'peak MB':>7} {'(job)':>12}")
    lines = [head, "-" * len(head)]
    for r in results:
        reads = {k: v["seconds"] for k, v in r["reads"].items()}
        wf = r["workflow"]
        reference = reads.get("pyreadstat", reads.get("pyarrow"))
        stages = wf["stages"]
        biggest = max(stages, key=lambda s: stages[s]["peak_mb"])
        lines.append(
            f"{r['n']:>10,} {r['format']:>7} {r['file_mb']:>8.0f} | {seconds(reads.get('pyreadstat')):>18}"
            f" {seconds(reads.get('pandas')):>7} {seconds(reads.get('pyarrow')):>7} | {wf['seconds']:>10.2f} {wf['cpu_s']:>6.2f}"
            f" {wf['seconds'] / reference:>7.2f} {seconds(wf['seconds'] / reads['pandas'] if 'pandas' in reads else None):>9} |"
            + "".join(f" {stages[s]['seconds']:>{w}.2f}" for s, w in zip(RULES, (8, 6, 11, 10)))
            + f" {wf['snakemake_s']:>9.2f} | {r['peak_mb']:>7.0f} {biggest + ' ' + format(stages[biggest]['peak_mb'], '.0f'):>12}"
        )
    lines.append("")
    lines.append("read s: the read call alone in a fresh process (pyreadstat / pandas.read_stata for .dta, pyarrow for"
                 " .parquet); CPU s: user+system time of snakemake and its jobs; wf/read: workflow over pyreadstat (.dta) or"
                 " pyarrow (.parquet); stage columns: wall time of each rule's job (Python start-up and imports included); snakemake: wall time outside the jobs; peak MB: largest"
                 " process of the run, (job): largest rule and its max RSS.")
    return "\n".join(lines)


def targets(results: list[dict]) -> str:
    lines = []
    for r in results:
        if r["n"] < 10**7:
            continue
        wf = r["workflow"]["seconds"]
        if r["format"] == "dta":
            limit = DTA_TARGET_RATIO * r["reads"]["pyreadstat"]["seconds"]
            lines.append(f"{'PASS' if wf <= limit else 'FAIL'}  {r['n']:,} .dta end to end {wf:.1f} s <= "
                         f"{DTA_TARGET_RATIO:g} x pyreadstat read-alone {r['reads']['pyreadstat']['seconds']:.1f} s"
                         f" = {limit:.1f} s")
        else:
            lines.append(f"{'PASS' if wf < PARQUET_TARGET_S else 'FAIL'}  {r['n']:,} .parquet end to end "
                         f"{wf:.1f} s < {PARQUET_TARGET_S:g} s")
        lines.append(f"{'PASS' if r['peak_mb'] <= MEMORY_TARGET_MB else 'FAIL'}  {r['n']:,} .{r['format']} peak"
                     f" memory {r['peak_mb']:.0f} MB <= {MEMORY_TARGET_MB:.0f} MB")
    if not lines:
        lines.append("(the targets concern 10^7 couples: not run)")
    loads = [x for r in results for x in r["workflow"]["load"]]
    lines.append(f"1-minute load average during the workflow runs: {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()}"
                 " CPUs (the benchmark itself adds about 1); wall time well above CPU s means other work competed")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6, 1e7], help="numbers of couples")
    parser.add_argument("--formats", nargs="+", choices=["dta", "parquet"], default=["dta", "parquet"])
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores (default 2)")
    parser.add_argument("--chunksize", type=int, help="override config.yaml's chunksize (--config chunksize=N)")
    parser.add_argument("--rev", default="HEAD", help="git revision of the project to time (default HEAD)")
    parser.add_argument("--worktree", action="store_true", help="time the working tree instead of --rev")
    parser.add_argument("--all", action="store_true",
                        help="build snakemake's default target with the config as is (bootstrap, plots ...)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each measurement; the fastest is shown")
    parser.add_argument("--regenerate", action="store_true", help="redraw and rewrite the cached input files")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project copies under benchmarks/out/")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)

    results = []
    for n in (int(size) for size in args.sizes):
        paths = couples_files(n, args.formats, args.regenerate)
        for fmt in args.formats:
            results.append(measure(n, fmt, paths[fmt], args))
            print(f"# done {n:,} .{fmt}: workflow {results[-1]['workflow']['seconds']:.1f} s", file=sys.stderr, flush=True)

    stamp = time.strftime("%Y-%m-%d %H:%M")
    source = "working tree" if args.worktree else subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", args.rev], capture_output=True, text=True).stdout.strip()
    report = f"project at {source}\n{table(results)}\n\n{targets(results)}\n"
    print(report, end="")
    (OUT / "latest.txt").write_text(f"# {stamp}, project at {source}: {' '.join(sys.argv)}\n{report}")
    (OUT / "latest.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
