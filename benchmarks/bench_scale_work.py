"""One scale's work, stage by stage, in one process: what is left once the job start-ups are paid.

bench_many_scales.py finds a sheet's cost mostly in its jobs' start-ups (Python and imports,
about 1 s of CPU a job); batching stages of many scales into one job (issue 23) pays those
once, and what remains is each scale's own work. This measures that work: one scale of
``--couples`` synthetic couples (bench_many_scales.couples_files: SOC2020, GB blocks, seed 1)
built through the ``camsis.steps`` functions the rule scripts call (tabulate, blank,
score_units, psd_candidates, score_file, plots), in one process after its imports, each
stage's CPU seconds (``time.process_time``) over ``--repeats`` repeats (fastest, and median).
The first build also counts, apart, as "first": what a stage costs the first time a process
runs it (lazy imports, caches), as a job that runs it once pays (median over the rounds).

Then what a rule script's process imports before its work, in fresh interpreters (CPU of the
child, fastest of ``--repeats``, less ``python -c pass``): Snakemake's preamble modules and
``camsis.steps`` and ``camsis.runner`` (every script), and ``camsis.publish.plots`` (the plots rule).

With ``--against DIR`` (another checkout, e.g. ``git worktree add /tmp/base main``) the same
figures are measured for its ``src/`` too, alternating with this checkout's in one run
(``--rounds`` processes of each, so that a change in the machine's load hits both alike), and
each line gains the ratio this/that of the medians. With ``--against-site DIR`` the baseline
(this checkout, or ``--against``'s) imports first from DIR, a folder of other versions of
dependencies: e.g. ``pip install --no-deps --target /tmp/mpl311 matplotlib==3.11.2`` measures
the figures under matplotlib 3.11 against the pinned one (pyproject.toml).

    python benchmarks/bench_scale_work.py [--couples 20000] [--repeats 5] [--rounds 2] [--against DIR]
                                          [--against-site DIR] [--profile STAGE]

The stages call ``camsis.steps`` directly, not the rule scripts; if a step's signature
changes, adapt ``stage_calls`` below. A stage that fails is reported and the rest still run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import OUT, REPO

STAGES = ("tabulate", "blank", "score_units", "psd_candidates", "score_file", "plots")
FIGURES = ("caterpillar_m", "caterpillar_f", "shrinkage", "male_female", "ca_map", "linked")
PREAMBLE = "import pickle, snakemake.logging, snakemake.iocontainers"
IMPORTS = {
    "python -c pass": "pass",
    "rule script (preamble + camsis.steps, camsis.runner)": f"{PREAMBLE}; import camsis.steps, camsis.runner",
    "plots rule (+ camsis.publish.plots)": f"{PREAMBLE}; import camsis.steps, camsis.runner, camsis.publish.plots",
    "camsis.steps alone": "import camsis.steps",
    "camsis.publish.plots alone": "import camsis.publish.plots",
}


def stage_calls(steps, data: Path, folder: Path) -> dict:
    """Each stage as a call of its ``camsis.steps`` function, as the rule scripts make it (default config)."""
    classification = [str(REPO / "data/classifications/soc2020.tsv"), str(REPO / "data/classifications/soc2020.yaml")]
    psds = str(REPO / "data/psds/gb_soc2020.tsv")
    work = {name: str(folder / name) for name in ("table.parquet", "table.json", "blanked.parquet", "blanking.json",
                                                  "unit_scores.tsv", "scaling.json", "ranking.tsv", "candidates.tsv",
                                                  "s.dta", "s.csv", "summary.json")}
    options = dict(min_n=30, reference_measure=None, disconnected="drop", reml=True, smoothing="nested",
                   smoothing_levels={"random": [1], "fixed": "top"}, mean=50, sd=15, clip=[1, 99],
                   reconstitution_order=0, n_components=2, estimator="ca", rc_dimensions=1, blanked_cells="zero")
    sheet_row = {"scale": "s", "input": str(data), "occ1": "hocc", "occ2": "wocc", "weight": "weight",
                 "classification": "soc2020", "psds": psds, "diagonal_digits": "0"}
    try:  # the plots step, in camsis.diagnostics since it left camsis.steps
        from camsis import diagnostics
    except ImportError:
        diagnostics = steps
    return {
        "tabulate": lambda: steps.tabulate(str(data), classification, work["table.parquet"], work["table.json"],
                                           steps.InputSpec(occ1="hocc", occ2="wocc", weight="weight")),
        "blank": lambda: steps.blank(work["table.parquet"], work["table.json"], classification,
                                     work["blanked.parquet"], work["blanking.json"], scale="s", diagonal_digits="0",
                                     diagonal_groups="", psds=psds, psds_smooth=None),
        "score_units": lambda: steps.score_units(
            steps.ScaleFiles(work["table.parquet"], work["table.json"], work["blanked.parquet"], classification, None),
            work["unit_scores.tsv"], work["scaling.json"], work["ranking.tsv"], **options),
        "psd_candidates": lambda: steps.psd_candidates(work["ranking.tsv"], work["candidates.tsv"], top=50,
                                                       min_count=5),
        "score_file": lambda: steps.score_file(
            work["unit_scores.tsv"], work["scaling.json"],
            steps.BuildRecords(table_info=work["table.json"], blanking=work["blanking.json"]), classification,
            work["s.dta"], work["s.csv"], work["summary.json"],
            steps.Provenance(scale="s", sheet_row=sheet_row, config=options | {"plot_dpi": 100}, built="2026-01-01")),
        "plots": lambda: diagnostics.plots(work["unit_scores.tsv"], work["scaling.json"], work["s.csv"], classification,
                                     {name: str(folder / f"{name}.png") for name in FIGURES}, scale="s", mean=50,
                                     sd=15, dpi=100),
    }


def worker(couples: int, repeats: int, profile: str | None) -> dict:
    """This process's stage timings (run with the measured checkout's src/ first on sys.path)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    from bench_many_scales import couples_files

    from camsis import steps

    data = couples_files(1, couples)[0]
    times: dict[str, list[float]] = {stage: [] for stage in STAGES}
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        calls = stage_calls(steps, data, Path(folder))
        for _ in range(repeats + 1):
            for stage in STAGES:
                if stage in failed:
                    continue
                start = time.process_time()
                try:
                    calls[stage]()
                except Exception as error:  # a changed signature: report it, time the others
                    failed[stage] = f"{type(error).__name__}: {error}"
                    continue
                times[stage].append(time.process_time() - start)
        if profile:
            profiler = cProfile.Profile()
            profiler.runcall(calls[profile])
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    return {"times": times, "failed": failed}


def run_worker(path: list[Path], couples: int, repeats: int, profile: str | None = None) -> dict:
    """One worker process whose imports come first from ``path`` (a checkout's src/, any site folder before it)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*map(str, path), str(REPO / "benchmarks")]), MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, __file__, "--worker", "--couples", str(couples), "--repeats", str(repeats)]
                          + (["--profile", profile] if profile else []), env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-4000:])
    if profile:
        print(done.stderr, file=sys.stderr)
    return json.loads(done.stdout.splitlines()[-1])


def import_cpu(path: list[Path], statement: str) -> float:
    """CPU seconds of a fresh interpreter running ``statement`` (user + system of the child)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, path)), MPLBACKEND="Agg")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", statement], env=env, check=True, cwd=tempfile.gettempdir())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def stage_rows(results: list[dict]) -> dict[str, tuple[float, float, float]]:
    """Stage -> (first: median over the processes, fastest and median of the later repeats) CPU s."""
    rows = {}
    for stage in STAGES:
        runs = [result["times"][stage] for result in results if len(result["times"].get(stage, [])) > 1]
        if runs:
            later = [t for run in runs for t in run[1:]]
            rows[stage] = (statistics.median(run[0] for run in runs), min(later), statistics.median(later))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--couples", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats of each stage and import")
    parser.add_argument("--rounds", type=int, default=2, help="processes of each checkout, alternating")
    parser.add_argument("--against", type=Path, help="another checkout to measure in the same run")
    parser.add_argument("--against-site", type=Path,
                        help="a folder of other dependency versions the baseline imports first (pip install --target)")
    parser.add_argument("--profile", choices=STAGES, help="print a cProfile of this stage (this checkout)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.couples, args.repeats, args.profile)))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    checkouts = {"this": [REPO / "src"]}
    if args.against or args.against_site:
        site = [args.against_site.resolve()] if args.against_site else []
        checkouts["against"] = [*site, (args.against.resolve() if args.against else REPO) / "src"]
    load = os.getloadavg()[0]
    results = {name: [] for name in checkouts}
    for round_ in range(args.rounds):
        for name, path in reversed(checkouts.items()):
            profile = args.profile if name == "this" and round_ == 0 else None
            results[name].append(run_worker(path, args.couples, args.repeats, profile))
    imports = {name: {label: [] for label in IMPORTS} for name in checkouts}
    for _ in range(args.repeats):
        for name, path in checkouts.items():
            for label, statement in IMPORTS.items():
                imports[name][label].append(import_cpu(path, statement))
    load = (load, os.getloadavg()[0])

    print(f"one scale of {args.couples:,} couples, stage by stage in one process; CPU s, {args.repeats} repeats in "
          f"each of {args.rounds} processes (first: the first run in a process); load {load[0]:.2f} -> {load[1]:.2f} "
          f"on {os.cpu_count()} CPUs")
    rows = {name: stage_rows(result) for name, result in results.items()}
    head = f"{'stage':<16} {'first':>6} {'fastest':>8} {'median':>7}"
    print(head + (f" | {'against: first':>14} {'fastest':>8} {'median':>7} | {'ratio':>5}" if "against" in checkouts else ""))
    for stage in (*STAGES, "total"):
        if stage == "total":
            line = {name: tuple(sum(r[i] for r in rows[name].values()) for i in range(3)) for name in rows}
        elif stage not in rows["this"]:
            print(f"{stage:<16} failed: {results['this'][0]['failed'].get(stage, '?')}")
            continue
        else:
            line = {name: rows[name].get(stage, (float("nan"),) * 3) for name in rows}
        text = f"{stage:<16} {line['this'][0]:6.3f} {line['this'][1]:8.3f} {line['this'][2]:7.3f}"
        if "against" in checkouts:
            a = line["against"]
            text += f" | {a[0]:14.3f} {a[1]:8.3f} {a[2]:7.3f} | {line['this'][2] / a[2]:5.2f}"
        print(text)
    print(f"\nimports in a fresh process, CPU s (fastest of {args.repeats}; 'less pass': over python -c pass)")
    for label in IMPORTS:
        fastest = {name: min(imports[name][label]) for name in checkouts}
        net = {name: fastest[name] - min(imports[name]["python -c pass"]) for name in checkouts}
        text = f"{label:<52} {fastest['this']:6.3f}  less pass {net['this']:6.3f}"
        if "against" in checkouts:
            ratio = net["this"] / net["against"] if net["against"] > 0 else float("nan")
            text += f" | against {fastest['against']:6.3f}  less pass {net['against']:6.3f} | {ratio:5.2f}"
        print(text)


if __name__ == "__main__":
    main()
