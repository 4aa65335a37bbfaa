"""What ``import camsis`` costs: every rule's job and every ``camsis`` command starts Python
and imports the package, so its import time is paid once per job.

Each import runs in a fresh interpreter (``python -c "import X"``), several times, alternating
the modules so that a change in the machine's load hits them alike; the figure is the fastest
run (the least disturbed), with the median beside it. The baseline is ``python -c pass`` in the
same run, and the ratio is the import's time over it; numpy, pandas and scipy are measured too,
as what the package cannot import faster than. ``--detail`` adds, for each camsis module, the
heaviest imports ``python -X importtime`` reports (cumulative microseconds, one run).

    python benchmarks/bench_import.py [--repeats 15] [--detail] [--against DIR]

The package is imported from this checkout's ``src/`` (put first on PYTHONPATH). With
``--against DIR`` (another checkout, e.g. a ``git worktree`` of the commit before a change)
the camsis modules are imported from its ``src/`` too, in the same alternation, and each
line gains the ratio of this checkout's time over that one's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO

BASELINE = "pass"
REFERENCES = ["numpy", "pandas", "scipy.sparse.linalg"]
CAMSIS = ["camsis", "camsis.steps", "camsis.publish.plots"]


def environment(checkout=REPO) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(checkout / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["MPLBACKEND"] = "Agg"
    return env


def statement(module: str) -> str:
    return BASELINE if module == BASELINE else f"import {module}"


def run_once(module: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement(module)], env=env, check=True)
    return time.perf_counter() - start


def heaviest_imports(module: str, env: dict[str, str], top: int = 8) -> list[tuple[int, str]]:
    """The packages (names without a dot) and camsis modules whose first import took longest
    while importing ``module``, from ``-X importtime`` (cumulative microseconds: what a module
    imports first is counted in it too)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", statement(module)], env=env,
                          check=True, capture_output=True, text=True)
    root = module.split(".")[0]
    found = []
    for line in done.stderr.splitlines()[1:]:
        if not line.startswith("import time:"):
            continue
        _, cumulative, name = line.split("|")
        name = name.strip()
        if name != module and ("." not in name or name.startswith(root + ".")) and name != root:
            found.append((int(cumulative), name))
    return sorted(found, reverse=True)[:top]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="fresh interpreters per module (default 15)")
    parser.add_argument("--detail", action="store_true", help="the heaviest imports of each camsis module")
    parser.add_argument("--against", type=Path, help="another checkout whose camsis to import alongside")
    args = parser.parse_args(argv)

    env = environment()
    runs = [(module, env) for module in [BASELINE, *REFERENCES, *CAMSIS]]
    if args.against:
        runs += [(f"{module} ({args.against.name})", environment(args.against.resolve())) for module in CAMSIS]
    for label, environ in runs:  # warm the page cache and the bytecode caches first
        run_once(label.split()[0], environ)
    load_before = os.getloadavg()
    times: dict[str, list[float]] = {label: [] for label, _ in runs}
    for _ in range(args.repeats):
        for label, environ in runs:
            times[label].append(run_once(label.split()[0], environ))
    load_after = os.getloadavg()
    modules = list(times)

    base = min(times[BASELINE])
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.repeats} fresh interpreters per module")
    print(f"{'python -c':>28} | {'fastest s':>9} {'median s':>9} | {'x baseline':>10} {'extra s':>8}")
    print("-" * 72)
    for module in modules:
        fastest, median = min(times[module]), statistics.median(times[module])
        line = f"{statement(module.split()[0]) + module[len(module.split()[0]):]:>28} | {fastest:9.3f} {median:9.3f} | "
        line += f"{fastest / base:10.1f} {fastest - base:8.3f}"
        if args.against and module in CAMSIS:
            line += f" | {fastest / min(times[f'{module} ({args.against.name})']):.2f} x {args.against.name}"
        print(line)
    print(f"baseline: python -c pass; x baseline and extra s from the fastest runs; "
          f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after")

    if args.detail:
        for module in CAMSIS:
            print(f"\nheaviest imports of 'import {module}' (python -X importtime, cumulative):")
            for us, name in heaviest_imports(module, env):
                print(f"  {us / 1e6:7.3f} s  {name}")


if __name__ == "__main__":
    main()
