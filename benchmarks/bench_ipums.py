"""Time and memory of an IPUMS extract (DDI codebook + fixed-width .dat.gz) against ipumspy reading it alone.

Writes an IPUMS-International-style extract of N persons in six samples (couples in
households: SAMPLE, YEAR, SERIAL, PERNUM, SPLOC, SEX, PERWT with two implied decimals, OCC on
the ISCO-08 units, plus three variables no scale reads) with the test suite's extract writer
(tests/ipumsfiles.py), written chunk by chunk, cached in benchmarks/out/ by size.

Each measurement runs in a fresh process (seconds of the call, the process' peak RSS):

- ``ipumspy``: the baseline, ``ipumspy.readers.read_microdata_chunked`` over the extract,
  asking for the eight variables the sheet uses, rows counted and dropped;
- ``decode``: ``camsis.steps.decode_input``, rule decode_input: the same variables read
  through ``camsis.io.reading`` (ipumspy inside, codes of no answer made missing) and written
  to Parquet, the columnar file every scale of the extract then reads;
- ``tabulate``: ``camsis.steps.tabulate`` of one sample (a sixth of the persons) from that
  Parquet file: filter, link the couples, count the table;
- with ``--workflow``, ``end to end``: ``python -m snakemake --cores 2`` in a copy of the
  working tree building the six scales (one decoding, six tabulations, the scales, the
  comparison; bootstrap off), wall seconds.

Ratios are against the ipumspy baseline of the same run. Peak memory of the reading and
the decoding is bounded by the chunk size (``--chunksize``), not the extract: run two sizes
to see it stay flat. Linking holds about 100 bytes per person of the sample it links.

    python benchmarks/bench_ipums.py --persons 2e5 1e6 --chunksize 1e5
    python benchmarks/bench_ipums.py --persons 1e7 --workflow

It prints the load average before and after each size: on a shared machine wall times
include waiting for a CPU.
"""

from __future__ import annotations

import argparse
import gzip
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
SAMPLES = (32201001, 76201001, 124201101, 484201501, 710201101, 840201001)
READ = ["PERWT", "PERNUM", "SPLOC", "SERIAL", "SEX", "OCC", "YEAR", "SAMPLE"]
WRITE_ROWS = 500_000  # persons formatted and written at a time

sys.path.insert(0, str(REPO / "tests"))
from ipumsfiles import Variable, codebook_xml, fixed_width_lines  # noqa: E402

VARIABLES = [
    Variable("SAMPLE", 9), Variable("YEAR", 4), Variable("SERIAL", 10), Variable("PERNUM", 4),
    Variable("SPLOC", 2, categories={"00": "No spouse present"}), Variable("AGE", 3),
    Variable("SEX", 1, categories={"1": "Male", "2": "Female", "9": "Unknown"}),
    Variable("PERWT", 8, decimals=2), Variable("EDATTAIN", 1), Variable("OCC", 4, categories={"9999": "NIU (not in universe)"}),
    Variable("INCTOT", 8),
]

# The process' own peak RSS (VmHWM: per address space, so not the parent's high-water mark,
# which getrusage's ru_maxrss carries across fork and exec).
PEAK = """
def peak_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
"""

IPUMSPY = PEAK + """
import json, sys, time, warnings
from ipumspy import readers
path, data, chunksize, columns = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(",")
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    codebook = readers.read_ipums_ddi(path)
rows = 0
for chunk in readers.read_microdata_chunked(codebook, filename=data, subset=columns, chunksize=chunksize,
                                            dtype={name: "float64" for name in columns}):
    rows += len(chunk)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(),
                  "rows": rows}))
"""

DECODE = PEAK + """
import json, sys, time
from camsis import steps
path, cache, chunksize, columns = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(",")
start = time.perf_counter()
rows = steps.decode_input(path, cache, cache + ".json", variables=columns, chunksize=chunksize)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(),
                  "rows": rows}))
"""

TABULATE = PEAK + """
import json, sys, time
from camsis import steps
path, cache, classification, chunksize, sample, out = sys.argv[1:7]
start = time.perf_counter()
steps.tabulate(path, [classification + ".tsv", classification + ".yaml"], out + ".parquet", out + ".json",
               steps.InputSpec(layout="persons", person="PERNUM", partner="SPLOC", household="SERIAL", sex="SEX",
                               first_sex="1", occ="OCC", weight="PERWT", where=f"SAMPLE == {sample}",
                               chunksize=int(chunksize)), decoded=[cache, cache + ".json"])
seconds = time.perf_counter() - start
linking = json.load(open(out + ".json"))["linking"]
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(),
                  "rows": linking["persons"] - linking["filtered"]}))
"""


def persons_chunk(start: int, n: int, total: int, rng: np.random.Generator, units: np.ndarray) -> pd.DataFrame:
    """Persons ``start`` .. ``start + n`` of the extract: couples (PERNUM 1 and 2 naming each other)
    and a tenth of singles, one household each, the samples in blocks of the file."""
    index = np.arange(start, start + n)
    household = index // 2 + 1
    pernum = index % 2 + 1
    single = rng.random(n) < 0.1
    return pd.DataFrame({
        "SAMPLE": np.asarray(SAMPLES)[index * len(SAMPLES) // total],
        "YEAR": 2010, "SERIAL": household, "PERNUM": pernum, "SPLOC": np.where(single, 0, 3 - pernum),
        "AGE": rng.integers(18, 90, n), "SEX": np.where(rng.random(n) < 0.002, 9, pernum),
        "PERWT": rng.integers(100, 5000, n) / 100, "EDATTAIN": rng.integers(1, 5, n),
        "OCC": np.where(rng.random(n) < 0.05, 9999, rng.choice(units, n)), "INCTOT": rng.integers(0, 10**7, n),
    })


def write_extract(persons: int, units: np.ndarray) -> Path:
    """The extract of ``persons`` persons in benchmarks/out/ (written once)."""
    OUT.mkdir(parents=True, exist_ok=True)
    stem = f"ipums_{persons}"
    path, data = OUT / f"{stem}.xml", OUT / f"{stem}.dat.gz"
    if path.exists() and data.exists():
        return path
    rng = np.random.default_rng(2020)
    with gzip.open(data, "wt", encoding="latin-1", compresslevel=6) as handle:
        for start in range(0, persons, WRITE_ROWS):
            handle.write(fixed_width_lines(persons_chunk(start, min(WRITE_ROWS, persons - start), persons, rng, units), VARIABLES))
    path.write_text(codebook_xml(VARIABLES, f"{stem}.dat", samples=tuple(map(str, SAMPLES))), encoding="utf-8")
    return path


def run_script(script: str, *args) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def end_to_end(path: Path, chunksize: int) -> dict:
    """The six scales built by Snakemake in a copy of the working tree."""
    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        folder = Path(folder)
        for part in ("Snakefile", "workflow", "config", "data"):
            (shutil.copytree if (REPO / part).is_dir() else shutil.copy)(REPO / part, folder / part)
        for name in (path.name, path.with_suffix(".dat.gz").name):
            os.symlink(OUT / name, folder / name)
        header = "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\tfilter\tlayout\tperson\tpartner\thousehold\tsex\tfirst_sex\tocc\n"
        rows = "".join(f"s{sample}\t{path.name}\t\t\tPERWT\tisco08\t\t0\tSAMPLE == {sample}\tpersons\tPERNUM\tSPLOC\tSERIAL\tSEX\t1\tOCC\n"
                       for sample in SAMPLES)
        (folder / "config/bench.tsv").write_text(header + rows)
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--config", "scales=config/bench.tsv",
                               "bootstrap=0", "plausible_values=0", "disconnected=drop", f"chunksize={chunksize}"],
                              cwd=folder, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        return {"seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=float, nargs="+", default=[2e5, 1e6])
    parser.add_argument("--chunksize", type=float, default=1e5)
    parser.add_argument("--workflow", action="store_true", help="also build the six scales with Snakemake")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from camsis.classifications.classification import load_classification

    classification = REPO / "data/classifications/isco08"
    units = load_classification("isco08", REPO / "data/classifications").units
    chunksize = int(args.chunksize)
    for persons in map(int, args.persons):
        print(f"{persons:,} persons, chunks of {chunksize:,}; load before: {os.getloadavg()[0]:.2f}")
        path = write_extract(persons, units)
        data = path.with_suffix(".dat.gz")
        print(f"  extract: {data.stat().st_size / 2**20:,.1f} MB gzipped")
        with tempfile.TemporaryDirectory(dir=OUT) as folder:
            cache = str(Path(folder) / "decoded.parquet")
            results = {
                "ipumspy": run_script(IPUMSPY, path, data, chunksize, ",".join(READ)),
                "decode": run_script(DECODE, path, cache, chunksize, ",".join(READ)),
            }
            results["tabulate"] = run_script(TABULATE, path, cache, classification, chunksize, SAMPLES[0],
                                             Path(folder) / "table")
        if args.workflow:
            results["end to end"] = end_to_end(path, chunksize)
        base = results["ipumspy"]["seconds"]
        for name, result in results.items():
            rows = f"{result['rows']:>12,} rows" if "rows" in result else " " * 17
            peak = f"  peak RSS {result['peak_mb']:7.0f} MB" if "peak_mb" in result else ""
            print(f"  {name:<11} {rows} {result['seconds']:8.1f} s ({result['seconds'] / base:5.2f} x ipumspy){peak}")
        print(f"  load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
