"""Time and memory of person files (layout: persons) against the same couples as a couples file.

Draws couples on the SOC2020 units (camsis.synthetic) and turns them into a UKHLS-style
person file: every couple is a man (sex 1) and a woman (sex 2) naming each other by a
file-wide id (pidp/ppid), plus singles without a partner and two variables linking does
not use (age, hidp), rows shuffled. The same couples one row each (hocc, wocc, weight) are
the baseline, in the same format and the same run. Files are cached in benchmarks/out/.

For each format (.dta, .parquet) it measures, each in a fresh process:

- tabulate alone: ``camsis.tables.tabulate_persons`` on the person file and
  ``camsis.tables.tabulate`` on the couples file; seconds of the call, peak RSS of the process;
- end to end: ``python -m snakemake --cores 2`` in a copy of this working tree asking for the
  scale's .dta, .csv and summary.json (bootstrap and plausible values off: they work on the
  table, so their cost does not depend on the input); wall seconds and the peak RSS of the
  largest process of the run (getrusage RUSAGE_CHILDREN of a wrapper).

    python benchmarks/bench_persons.py --persons 1e7 --formats dta parquet

It prints the load average (``uptime``) before and after: on a shared machine wall times
include waiting for a CPU.
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

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
SEED = 2020
SINGLES = 0.1  # share of persons without a partner

TABULATE_ALONE = """
import json, resource, sys, time
from camsis.classification import load_classification
from camsis.linking import PersonColumns
from camsis.tables import tabulate, tabulate_persons
path, layout = sys.argv[1], sys.argv[2]
units = load_classification("soc2020", sys.argv[3]).units
start = time.perf_counter()
if layout == "persons":
    columns = PersonColumns(person="pidp", partner="ppid", sex="sex", occ="occ", weight="weight")
    table, counts = tabulate_persons(path, columns, 1.0, units, chunksize=1_000_000)
else:
    table, counts = tabulate(path, "hocc", "wocc", "weight", units, chunksize=1_000_000), {}
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "used": table.used, "linking": counts}))
"""

MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[2:], cwd=sys.argv[1], capture_output=True, text=True)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "returncode": done.returncode, "stderr": done.stderr[-3000:]}))
"""


def draw(n_persons: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A person file of n_persons and the couples file of its couples."""
    from camsis.blanking import read_psd_file
    from camsis.classification import load_classification
    from camsis.synthetic import simulate_couples

    classification = load_classification("soc2020", REPO / "data" / "classifications")
    blocks = read_psd_file(REPO / "data" / "psds" / "gb_soc2020.tsv")
    n_couples = int(n_persons * (1 - SINGLES)) // 2
    n_singles = n_persons - 2 * n_couples
    couples = simulate_couples(classification.units, n_couples, seed=SEED, blocks=blocks).couples
    couples = couples[["hocc", "wocc", "weight"]].reset_index(drop=True)
    rng = np.random.default_rng(SEED)
    ids = 68_000_000 + rng.permutation(n_persons * 3)[:n_persons].astype(np.int64) * 17  # gaps, like pidp
    man, woman, single = ids[:n_couples], ids[n_couples : 2 * n_couples], ids[2 * n_couples :]
    persons = pd.DataFrame({
        "pidp": np.concatenate([man, woman, single]),
        "ppid": np.concatenate([woman, man, np.full(n_singles, -8)]),
        "sex": np.concatenate([np.ones(n_couples), np.full(n_couples, 2.0), rng.integers(1, 3, n_singles)]).astype(np.int8),
        "occ": np.concatenate([couples["hocc"], couples["wocc"], rng.choice(classification.units, n_singles)]).astype(np.float64),
        "weight": np.concatenate([couples["weight"], np.ones(n_couples), np.ones(n_singles)]),
        "age": rng.integers(16, 90, n_persons).astype(np.int16),
        "hidp": rng.integers(1, n_persons, n_persons),
    })
    order = rng.permutation(n_persons)
    persons = persons.iloc[order].reset_index(drop=True)
    # the couples file lists couples in the person file's order of their men, as linking returns them
    rank = np.empty(n_persons, dtype=np.int64)
    rank[order] = np.arange(n_persons)
    couples = couples.iloc[np.argsort(rank[:n_couples], kind="stable")].reset_index(drop=True)
    return persons, couples


def write(frame: pd.DataFrame, path: Path) -> None:
    import pyreadstat

    tmp = path.with_suffix(path.suffix + ".part")
    if path.suffix == ".dta":
        pyreadstat.write_dta(frame, str(tmp))
    else:
        frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def inputs(n: int, formats: list[str], regenerate: bool) -> dict:
    paths = {fmt: {kind: OUT / f"{kind}_{n}.{fmt}" for kind in ("persons", "couples")} for fmt in formats}
    if regenerate or not all(p.exists() for kinds in paths.values() for p in kinds.values()):
        OUT.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        persons, couples = draw(n)
        print(f"# drew {n:,} persons ({len(couples):,} couples) in {time.perf_counter() - start:.1f} s", flush=True)
        for fmt in formats:
            for kind, frame in (("persons", persons), ("couples", couples)):
                start = time.perf_counter()
                write(frame, paths[fmt][kind])
                print(f"# wrote {paths[fmt][kind].name} in {time.perf_counter() - start:.1f} s", flush=True)
    return paths


def alone(path: Path, layout: str) -> dict:
    env = os.environ | {"PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-c", TABULATE_ALONE, str(path), layout, str(REPO / "data" / "classifications")],
                          capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout)


def workflow(path: Path, layout: str, cores: int) -> dict:
    directory = Path(tempfile.mkdtemp(prefix=f"persons_{layout}_", dir=OUT))
    try:
        for part in ("Snakefile", "workflow", "config", "data"):
            source = REPO / part
            (shutil.copytree if source.is_dir() else shutil.copy)(source, directory / part)
        header = ("scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\tdiagonal_groups"
                  "\tlayout\tperson\tpartner\tsex\tfirst_sex\tocc\n")
        if layout == "persons":
            row = f"bench\t{path}\t\t\tweight\tsoc2020\tdata/psds/gb_soc2020.tsv\t0\t1,2\tpersons\tpidp\tppid\tsex\t1\tocc\n"
        else:
            row = f"bench\t{path}\thocc\twocc\tweight\tsoc2020\tdata/psds/gb_soc2020.tsv\t0\t1,2\t\t\t\t\t\t\n"
        (directory / "config" / "scales.tsv").write_text(header + row)
        command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--config", "bootstrap=0", "plausible_values=0",
                   "--", "results/bench/bench.dta", "results/bench/bench.csv", "results/bench/summary.json"]
        env = os.environ | {"PYTHONPATH": str(REPO / "src")}
        done = subprocess.run([sys.executable, "-c", MEASURE, str(directory), *command], capture_output=True, text=True, env=env)
        result = json.loads(done.stdout)
        if result["returncode"]:
            raise SystemExit(f"snakemake failed in {directory}:\n{result['stderr']}")
        result["summary"] = json.loads((directory / "results/bench/summary.json").read_text())
        result["scores"] = pd.read_csv(directory / "results/bench/bench.csv")
        return result
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=float, default=1e7)
    parser.add_argument("--formats", nargs="+", default=["dta", "parquet"], choices=["dta", "parquet"])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    n = int(args.persons)
    print(f"# uptime before: {uptime()}", flush=True)
    paths = inputs(n, args.formats, args.regenerate)
    print("format | input | file MB | tabulate s | tabulate peak MB | workflow s | workflow peak MB")
    for fmt in args.formats:
        results = {}
        for layout in ("couples", "persons"):
            path = paths[fmt][layout]
            results[layout] = (alone(path, layout), workflow(path, layout, args.cores))
            tab, run = results[layout]
            print(f"{fmt} | {layout} | {path.stat().st_size / 2**20:.0f} | {tab['seconds']:.1f} | {tab['peak_mb']:.0f} | "
                  f"{run['seconds']:.1f} | {run['peak_mb']:.0f}", flush=True)
        (ct, cw), (pt, pw) = results["couples"], results["persons"]
        same = cw["scores"].equals(pw["scores"])
        print(f"{fmt} | persons / couples | | {pt['seconds'] / ct['seconds']:.2f}x | {pt['peak_mb'] / ct['peak_mb']:.2f}x | "
              f"{pw['seconds'] / cw['seconds']:.2f}x | {pw['peak_mb'] / cw['peak_mb']:.2f}x")
        print(f"# {fmt}: linking {json.dumps(pt['linking'])}; pairs used {pt['used']:,} vs {ct['used']:,}; "
              f"score files identical: {same}; peak per person {pt['peak_mb'] * 2**20 / n:.0f} bytes", flush=True)
    print(f"# uptime after: {uptime()}")


if __name__ == "__main__":
    main()
