"""Time the default demo build with bootstrap=0 and with bootstrap=200, side by side, and their ratio.

Each run is ``python -m snakemake --cores 2`` (Snakemake's default target: the demo scale's
score files, plausible values, candidates and plots, the synthetic demo input included) in
its own fresh copy of the project, so nothing is reused between the two. The runs alternate
(B=0, B=200, B=0, B=200, ... with ``--repeats``) so both see the same machine load; the
fastest of each is reported, with the 1-minute load average before and after each run.

    python benchmarks/bench_bootstrap.py                # B = 0 and 200, 2 cores
    python benchmarks/bench_bootstrap.py --replicates 500 --batch 50 --repeats 2

The demo is built with statuses, so rule bootstrap_batch runs for both its variants: the
title-only batches, and the by-status ones, which draw each replicate's couples from the same
stream and rebuild the by-status scale. Per-replicate CPU is given two ways: the CPU
time of the batch jobs (from Snakemake's ``benchmark:`` files, added to the rules in the copy
only; a batch's time includes starting Python, the imports and reading the inputs; Snakemake
samples it, so it can fall short; the longest batch job's wall time is shown beside it) divided by B,
and the extra CPU of the whole B=200 run over the B=0 run divided by B (what the bootstrap
costs in all: batches, gathering, plausible values, the score files' extra columns).

It ends with the issue's target, PASS or FAIL: the B=200 build takes at most 2x the B=0
build (moonshot: 1.3x).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, REPO  # noqa: E402
from bench_workflow import discard, extract_project, measured_snakemake, read_benchmark  # noqa: E402  (the same copy and wall/CPU/peak-RSS wrapper)

TARGET, MOONSHOT = 2.0, 1.3


def project_copy(target: Path, args) -> None:
    """The project at args.rev (or the working tree), with a benchmark file for every bootstrap batch."""
    extract_project(target, args)
    rules = target / "workflow" / "rules" / "bootstrap.smk"
    text = rules.read_text()
    # Every batch job is timed, the by-status ones too (the demo is built with statuses: rule
    # bootstrap_batch with {variant} "_by_status"; a revision from before it had rule
    # bootstrap_batch_by_status, or bootstrap_replicate).
    def timed(match):
        wildcards = "{variant}_{b}" if "{variant}" in text else "_{b}"
        if match[1] == "bootstrap_replicate":
            wildcards = "_{r}"
        return f'rule {match[1]}:\n    benchmark:\n        "benchmarks/{{scale}}/{match[1]}{wildcards}.tsv"\n'

    for name in ("bootstrap.smk", "by_status.smk"):
        rules = target / "workflow" / "rules" / name
        if rules.exists():
            text = rules.read_text()
            rules.write_text(re.sub(r"(?m)^rule (bootstrap_batch|bootstrap_batch_by_status|bootstrap_replicate):\n",
                                    timed, text))


def run(replicates: int, args) -> dict:
    def prepare(directory: Path) -> list[str]:
        project_copy(directory, args)
        config = [f"bootstrap={replicates}", f"plausible_values={min(5, replicates)}"]
        if args.batch and replicates:
            config.append(f"bootstrap_batch={args.batch}")
        return [sys.executable, "-m", "snakemake", "--cores", str(args.cores), "--config", *config]

    directory, result = measured_snakemake(f"bootstrap_{replicates}_", prepare, args)
    try:
        batches = [read_benchmark(path) for path in sorted((directory / "benchmarks").glob("*/bootstrap_*.tsv"))]
        result.update(replicates=replicates, batches=batches)
        return result
    finally:
        discard(directory, args)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def report(plain: dict, boot: dict, args, loads: list[str]) -> str:
    B = boot["replicates"]
    ratio = boot["seconds"] / plain["seconds"]
    batch_cpu = sum(b["cpu_s"] for b in boot["batches"])
    lines = [
        f"{'run':>14} | {'wall s':>7} {'CPU s':>7} | {'batch jobs':>10} {'longest s':>9} {'batch CPU s':>11} |"
        " load before-after",
        "-" * 88,
    ]
    for name, r in ((f"bootstrap=0", plain), (f"bootstrap={B}", boot)):
        batch = sum(b["cpu_s"] for b in r["batches"])
        longest = max((b["seconds"] for b in r["batches"]), default=0.0)
        lines.append(f"{name:>14} | {r['seconds']:>7.1f} {r['cpu_s']:>7.1f} | {len(r['batches']):>10} {longest:>9.1f}"
                     f" {batch:>11.1f} | {r['load'][0]:.1f}-{r['load'][1]:.1f}")
    lines += [
        "",
        f"ratio wall B={B} / B=0: {ratio:.2f}   (CPU: {boot['cpu_s'] / plain['cpu_s']:.2f})",
        f"per-replicate CPU: {batch_cpu / B:.3f} s in the batch jobs (start-up and imports included; with statuses"
        f" both scales' replicates), {(boot['cpu_s'] - plain['cpu_s']) / B:.3f} s extra over the whole run",
        f"{'PASS' if ratio <= TARGET else 'FAIL'}  B={B} build {boot['seconds']:.1f} s <= {TARGET:g} x B=0 build"
        f" {plain['seconds']:.1f} s = {TARGET * plain['seconds']:.1f} s",
        f"{'PASS' if ratio <= MOONSHOT else 'FAIL'}  (moonshot) <= {MOONSHOT:g} x = {MOONSHOT * plain['seconds']:.1f} s",
        f"--cores {args.cores}, batch size {args.batch or 'default'}, fastest of {args.repeats};"
        f" {os.cpu_count()} CPUs; uptime: " + " | ".join(loads),
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200, help="B of the bootstrap run (default 200)")
    parser.add_argument("--batch", type=int, help="bootstrap_batch (default: the config's, half of B)")
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores (default 2)")
    parser.add_argument("--repeats", type=int, default=1, help="pairs of runs; the fastest of each is shown")
    parser.add_argument("--rev", default="HEAD", help="git revision of the project to time (default HEAD)")
    parser.add_argument("--worktree", action="store_true", help="time the working tree instead of --rev")
    parser.add_argument("--keep", action="store_true", help="keep the project copies under benchmarks/out/")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)

    loads = [uptime()]
    plains, boots = [], []
    for _ in range(args.repeats):
        plains.append(run(0, args))
        print(f"# bootstrap=0: {plains[-1]['seconds']:.1f} s", file=sys.stderr, flush=True)
        boots.append(run(args.replicates, args))
        print(f"# bootstrap={args.replicates}: {boots[-1]['seconds']:.1f} s", file=sys.stderr, flush=True)
    loads.append(uptime())
    plain = min(plains, key=lambda r: r["seconds"])
    boot = min(boots, key=lambda r: r["seconds"])
    source = "working tree" if args.worktree else subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", args.rev], capture_output=True, text=True).stdout.strip()
    text = f"project at {source}\n{report(plain, boot, args, loads)}\n"
    print(text, end="")
    stamp = time.strftime("%Y-%m-%d %H:%M")
    (OUT / "bootstrap_latest.txt").write_text(f"# {stamp}: {' '.join(sys.argv)}\n{text}")
    (OUT / "bootstrap_latest.json").write_text(json.dumps({"plain": plains, "bootstrap": boots}, indent=2) + "\n")


if __name__ == "__main__":
    main()
