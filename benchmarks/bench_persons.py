"""Time and memory of person files (layout: persons) against the same couples as a couples file.

Draws couples on the SOC2020 units (camsis.method.synthetic.simulate_couples: one multinomial
draw of the cells, vectorised) and turns them into a UKHLS-style person file: every couple
is a man (sex 1) and a woman (sex 2) naming each other by a file-wide id (pidp/ppid), plus
singles without a partner and two variables linking does not use (age, hidp), rows
shuffled. The same couples one row each (hocc, wocc, weight), in the order linking returns
them, are the baseline, in the same format and the same run. The files are written once and
cached by size and format in benchmarks/out/ (``--regenerate`` redraws them).

For each format (.dta, .parquet) it measures, each in a fresh process:

- tabulate alone: ``camsis.method.tables.tabulate_persons`` on the person file and
  ``camsis.method.tables.tabulate`` on the couples file; seconds of the call, the process' peak
  RSS, and that peak minus the RSS before reading (the reading's own memory; bytes per
  person of it should not grow with the size: run two sizes to see that it scales linearly);
- end to end: ``python -m snakemake --cores N`` in a copy of this working tree asking for
  the scale's .dta, .csv and summary.json (bootstrap and plausible values off: they work
  on the table, so their cost does not depend on the input); wall seconds, CPU seconds of
  the whole process tree, the peak RSS of the largest process (getrusage RUSAGE_CHILDREN)
  and the peak of the whole build's RSS (the process tree's RSS summed, sampled every
  0.1 s from /proc).

Ratios are persons / couples in the same run. The coordinator's big run:

    python benchmarks/bench_persons.py --persons 1e7 --formats dta parquet

``--persons`` takes several sizes: it then prints the reading memory per extra person
between sizes, free of the fixed costs; with ``--chunksize`` below the smallest size (e.g.
``--persons 2e5 1e6 --chunksize 1e5 --no-workflow``) that is what linking holds per person,
and it should not grow with the size. It prints the load average
(``uptime``) before and after each size: on a shared machine wall times include waiting
for a CPU.
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

from _common import OUT, REPO, soc2020

SEED = 2020
SINGLES = 0.1  # share of persons without a partner
DRAW_VERSION = 2  # part of the cached files' names: bump when draw() changes

TABULATE_ALONE = """
import json, resource, sys, time
from camsis.classifications.classification import load_classification
from camsis.method.linking import PersonColumns
from camsis.method.tables import tabulate, tabulate_persons

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

path, layout, chunksize = sys.argv[1], sys.argv[2], int(sys.argv[4])
units = load_classification("soc2020", sys.argv[3]).units
before = rss_mb()
start = time.perf_counter()
if layout == "persons":
    columns = PersonColumns(person="pidp", partner="ppid", sex="sex", occ="occ", weight="weight")
    table, counts = tabulate_persons(path, columns, 1.0, units, chunksize=chunksize)
else:
    table, counts = tabulate(path, "hocc", "wocc", "weight", units, chunksize=chunksize), {}
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "before_mb": before, "used": table.used, "linking": counts}))
"""

# Linking alone under tracemalloc (numpy and pandas report their arrays to it; the file
# reader's own buffers, e.g. pyarrow's, are not counted): the memory linking holds per person,
# which must not grow with the size of the file.
LINK_TRACED = """
import json, sys, time, tracemalloc
from camsis.method.linking import PersonColumns, link_file
path, chunksize = sys.argv[1], int(sys.argv[2])
columns = PersonColumns(person="pidp", partner="ppid", sex="sex", occ="occ", weight="weight")
tracemalloc.start()
start = time.perf_counter()
linked = link_file(path, columns, 1.0, chunksize=chunksize)
seconds = time.perf_counter() - start
held, peak = tracemalloc.get_traced_memory()
print(json.dumps({"seconds": seconds, "held_mb": held / 2**20, "peak_mb": peak / 2**20, "persons": linked.counts["persons"]}))
"""

# Runs a command; reports wall and CPU seconds of its process tree, the peak RSS of its
# largest process and the peak of the tree's summed RSS (sampled from /proc every 0.1 s).
MEASURE = """
import json, os, resource, subprocess, sys, time
PAGE = resource.getpagesize()

def tree_rss(root):
    children, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as f:
                rss[int(entry)] = int(f.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total

start = time.perf_counter()
process = subprocess.Popen(sys.argv[2:], cwd=sys.argv[1], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
peak_tree = 0
import threading
stderr = []
reader = threading.Thread(target=lambda: stderr.append(process.stderr.read()))
reader.start()
while process.poll() is None:
    peak_tree = max(peak_tree, tree_rss(process.pid))
    time.sleep(0.1)
reader.join()
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024,
                  "tree_peak_mb": peak_tree / 2**20, "returncode": process.returncode, "stderr": stderr[0][-3000:]}))
"""


def draw(n_persons: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A person file of n_persons and the couples file of its couples (vectorised: seconds for 10^7)."""
    from camsis.method.synthetic import simulate_couples

    classification, blocks = soc2020()
    n_couples = int(n_persons * (1 - SINGLES)) // 2
    n_singles = n_persons - 2 * n_couples
    couples = simulate_couples(classification.units, n_couples, seed=SEED, blocks=blocks).couples
    couples = couples[["hocc", "wocc", "weight"]].reset_index(drop=True)
    rng = np.random.default_rng(SEED)
    # distinct ids with gaps, like pidp: n of the first 3n multiples of 17, in random order
    ids = 68_000_000 + 17 * rng.choice(3 * n_persons, n_persons, replace=False).astype(np.int64)
    man, woman, single = ids[:n_couples], ids[n_couples : 2 * n_couples], ids[2 * n_couples :]
    order = rng.permutation(n_persons)  # file row -> drawn person
    persons = pd.DataFrame({
        "pidp": np.concatenate([man, woman, single])[order],
        "ppid": np.concatenate([woman, man, np.full(n_singles, -8)])[order],
        "sex": np.concatenate([np.ones(n_couples), np.full(n_couples, 2.0), rng.integers(1, 3, n_singles)]).astype(np.int8)[order],
        "occ": np.concatenate([couples["hocc"], couples["wocc"], rng.choice(classification.units, n_singles)]).astype(np.float64)[order],
        "weight": np.concatenate([couples["weight"], np.ones(n_couples), np.ones(n_singles)])[order],
        "age": rng.integers(16, 90, n_persons).astype(np.int16),
        "hidp": rng.integers(1, n_persons, n_persons),
    })
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
    """The cached files of this size (drawn and written only when missing)."""
    paths = {fmt: {kind: OUT / f"{kind}_{n}_v{DRAW_VERSION}.{fmt}" for kind in ("persons", "couples")} for fmt in formats}
    missing = [p for kinds in paths.values() for p in kinds.values() if regenerate or not p.exists()]
    if missing:
        OUT.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        persons, couples = draw(n)
        print(f"# drew {n:,} persons ({len(couples):,} couples) in {time.perf_counter() - start:.1f} s", flush=True)
        for path in missing:
            start = time.perf_counter()
            write(persons if path.name.startswith("persons") else couples, path)
            print(f"# wrote {path.name} in {time.perf_counter() - start:.1f} s", flush=True)
    return paths


def alone(path: Path, layout: str, chunksize: int) -> dict:
    env = os.environ | {"PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-c", TABULATE_ALONE, str(path), layout, str(REPO / "data" / "classifications"),
                           str(chunksize)],
                          capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout)


def link_traced(path: Path, chunksize: int) -> dict:
    env = os.environ | {"PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-c", LINK_TRACED, str(path), str(chunksize)], capture_output=True, text=True, env=env)
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
        if done.returncode:
            raise SystemExit(done.stderr[-3000:])
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


def run_size(n: int, formats: list[str], cores: int, regenerate: bool, end_to_end: bool, chunksize: int) -> dict:
    print(f"# {n:,} persons; uptime before: {uptime()}", flush=True)
    paths = inputs(n, formats, regenerate)
    print("format | input | file MB | tabulate s | tabulate peak MB | reading MB | reading B/person"
          + (" | workflow s | workflow CPU s | largest process MB | whole build MB" if end_to_end else ""))
    everything = {}
    for fmt in formats:
        results = everything[fmt] = {}
        for layout in ("couples", "persons"):
            path = paths[fmt][layout]
            tab = alone(path, layout, chunksize)
            tab["reading_mb"] = tab["peak_mb"] - tab["before_mb"]
            run = workflow(path, layout, cores) if end_to_end else None
            results[layout] = (tab, run)
            line = (f"{fmt} | {layout} | {path.stat().st_size / 2**20:.0f} | {tab['seconds']:.1f} | {tab['peak_mb']:.0f} | "
                    f"{tab['reading_mb']:.0f} | {tab['reading_mb'] * 2**20 / n:.0f}")
            if run:
                line += (f" | {run['seconds']:.1f} | {run['cpu_seconds']:.1f} | {run['peak_mb']:.0f} | "
                         f"{run['tree_peak_mb']:.0f}")
            print(line, flush=True)
        (ct, cw), (pt, pw) = results["couples"], results["persons"]
        line = (f"{fmt} | persons / couples | | {pt['seconds'] / ct['seconds']:.2f}x | {pt['peak_mb'] / ct['peak_mb']:.2f}x | "
                f"{pt['reading_mb'] / max(ct['reading_mb'], 1):.2f}x |")
        if end_to_end:
            line += (f" | {pw['seconds'] / cw['seconds']:.2f}x | {pw['cpu_seconds'] / cw['cpu_seconds']:.2f}x | "
                     f"{pw['peak_mb'] / cw['peak_mb']:.2f}x | {pw['tree_peak_mb'] / cw['tree_peak_mb']:.2f}x")
        print(line)
        print(f"# {fmt}: linking {json.dumps(pt['linking'])}; pairs used {pt['used']:,} vs {ct['used']:,}", flush=True)
        traced = link_traced(paths[fmt]["persons"], chunksize)
        print(f"# {fmt}: linking alone under tracemalloc: peak {traced['peak_mb']:.0f} MB = "
              f"{traced['peak_mb'] * 2**20 / n:.0f} B/person, couples held after it {traced['held_mb']:.0f} MB", flush=True)
        if end_to_end:
            same = cw["scores"].equals(pw["scores"])
            print(f"# {fmt}: score files of the person file and the couples file identical: {same}", flush=True)
    print(f"# uptime after: {uptime()}", flush=True)
    return {fmt: {layout: result[0]["reading_mb"] for layout, result in by_layout.items()} for fmt, by_layout in everything.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=float, nargs="+", default=[1e7])
    parser.add_argument("--formats", nargs="+", default=["dta", "parquet"], choices=["dta", "parquet"])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--no-workflow", dest="end_to_end", action="store_false",
                        help="tabulate alone only (no Snakemake runs)")
    parser.add_argument("--chunksize", type=float, default=1e6,
                        help="rows read at a time by tabulate alone (the workflow uses the config's, 10^6); smaller "
                             "than the smallest size, the reader's chunk is the same at every size and the "
                             "slope between sizes is the memory linking holds per person")
    args = parser.parse_args()
    reading = {int(n): run_size(int(n), args.formats, args.cores, args.regenerate, args.end_to_end, int(args.chunksize)) for n in args.persons}
    sizes = sorted(reading)
    # Memory that grows with the input: the slope between sizes, free of the fixed cost
    # (the U x U count arrays, the reader's buffers) that dominates small files.
    for small, large in zip(sizes, sizes[1:]):
        for fmt in args.formats:
            slopes = {layout: (reading[large][fmt][layout] - reading[small][fmt][layout]) * 2**20 / (large - small)
                      for layout in ("couples", "persons")}
            print(f"# {fmt}: reading memory per extra person, {small:,} -> {large:,} persons: "
                  f"persons file {slopes['persons']:.0f} B, couples file of their couples {slopes['couples']:.0f} B")


if __name__ == "__main__":
    main()
