"""Same results before and after a change that should not change any: build, then compare.

Not a timing: a check for restructuring (moving code between modules, new seams), which
must leave every number as it was. ``build`` runs the workflow of one checkout (its
Snakefile, rules and ``src/``) on fixed inputs into a folder; ``compare`` holds two such
folders together and prints ``identical`` or every difference; ``check REV`` does both for
a git revision (built from a temporary worktree) and this checkout.

What is built (in a copy of the project, Snakemake on 2 cores):

- the demo scale (synthetic SOC2020 couples with statuses, ``--couples`` of them, seed
  2020): title-only and by-status score files, summary.json, plausible values, and its
  release (score files, readme, Stata/SPSS/R match files);
- a person file made from the first ``--persons`` demo couples (UKHLS-style ids, with
  singles, broken links and a second wave, ``tests/personfiles.py``), with its status;

both with a small bootstrap (``--bootstrap`` replicates in batches of 2). A .dta records the
time it was written, so the second build of a check takes the first one's input files
(``--inputs``), byte for byte: their checksums, which summary.json and the release readme
quote, are then the same.

What is compared: every column and row of each .dta/.csv score file and plausible-value
file (values, column order, value and variable labels), every number and string of each
summary.json (except the timestamps and software versions that name the run), the demo
couples, and the release's text files byte for byte.

Usage::

    python benchmarks/same_results.py check $(git merge-base main HEAD)   # this checkout against its base
    python benchmarks/same_results.py build . /tmp/after [--inputs /tmp/before]
    python benchmarks/same_results.py compare /tmp/before /tmp/after
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pyreadstat

HERE = Path(__file__).resolve().parent.parent
PARTS = ("Snakefile", "workflow", "config", "data")
SCALES = ("gb_soc2020_demo", "persons")
# summary.json keys that name the run rather than its result
RUN_KEYS = {"created", "camsis_version", "software", "python", "timestamp", "date", "versions"}
TEXT_SUFFIXES = {".txt", ".do", ".sps", ".R", ".cff", ".tsv"}


def snakemake(directory: Path, source: Path, *args: str) -> None:
    environment = os.environ | {"PYTHONPATH": str(source / "src")}
    done = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=directory,
                          env=environment, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"snakemake failed in {directory}:\n{done.stderr[-4000:]}")


def build(source: Path, out: Path, couples: int, persons: int, bootstrap: int, inputs: Path | None = None) -> None:
    """The workflow of checkout ``source`` on the fixed inputs (made, or ``inputs``' own), into ``out``."""
    source, out = source.resolve(), out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for part in PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, out / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source / part, out / part)
    (out / "config/same.yaml").write_text(f"scales: config/same.tsv\ndemo: {{couples: {couples}, seed: 2020}}\n"
                                          f"bootstrap: {bootstrap}\nbootstrap_batch: 2\nplausible_values: 2\ndisconnected: drop\n")
    config = ["--configfiles", "config/config.yaml", "config/same.yaml"]
    sheet = (out / "config/scales.tsv").read_text().splitlines()
    header = sheet[0].split("\t")
    (out / "config/same.tsv").write_text("\n".join(sheet) + "\n")
    sys.path.insert(0, str(HERE / "tests"))
    from personfiles import person_file, sheet_columns

    if inputs is not None:
        shutil.copytree(inputs / "resources", out / "resources")
        shutil.copy(inputs / "persons.dta", out / "persons.dta")
    else:
        snakemake(out, source, *config, "--", "resources/demo/gb_soc2020_demo.dta")
        demo, _ = pyreadstat.read_dta(out / "resources/demo/gb_soc2020_demo.dta", row_limit=persons)
        weight = demo["weight"] if "weight" in demo else 1.0
        truth = demo.rename(columns={"hemp": "hstat", "wemp": "wstat"}).assign(wt=weight)
        people, _ = person_file(truth, "ukhls", repeats=25, seed=1)
        pyreadstat.write_dta(people, str(out / "persons.dta"))
    columns = sheet_columns("ukhls") | {"first_sex": "1", "repeat_couples": "first", "layout": "persons"}
    row = {"scale": "persons", "input": "persons.dta", "classification": "soc2020", "psds": "data/psds/gb_soc2020.tsv",
           "diagonal_digits": "0", "diagonal_groups": "1,2", "statuses": "empst3"} | columns
    names = header + [key for key in row if key not in header]
    lines = ["\t".join(names)] + ["\t".join(line.split("\t") + [""] * (len(names) - len(header))) for line in sheet[1:]]
    lines.append("\t".join(row.get(name, "") for name in names))
    (out / "config/same.tsv").write_text("\n".join(lines) + "\n")
    targets = [f"results/{s}/{s}{kind}.dta" for s in SCALES for kind in ("", "_by_status")]
    targets += [f"results/{s}/{f}" for s in SCALES for f in ("summary.json", "plausible.dta", "plausible_by_status.dta")]
    targets += ["results/gb_soc2020_demo/gb_soc2020_demo_release.zip"]
    snakemake(out, source, *config, "--", *targets)


def compare_frames(a: pd.DataFrame, b: pd.DataFrame, name: str) -> list[str]:
    if list(a.columns) != list(b.columns):
        return [f"{name}: columns {list(a.columns)} != {list(b.columns)}"]
    if len(a) != len(b):
        return [f"{name}: {len(a)} rows != {len(b)} rows"]
    differences = []
    for column in a.columns:
        left, right = a[column], b[column]
        same = (left == right) | (left.isna() & right.isna())
        if not same.all():
            row = int((~same).to_numpy().argmax())
            differences.append(f"{name}: column {column} differs in {int((~same).sum())} rows, "
                               f"first row {row}: {left.iloc[row]!r} != {right.iloc[row]!r}")
    return differences


def compare_meta(a, b, name: str) -> list[str]:
    fields = ("column_names_to_labels", "variable_value_labels", "variable_to_label", "value_labels", "file_label")
    return [f"{name}: {field} differs" for field in fields if getattr(a, field, None) != getattr(b, field, None)]


def compare_json(a, b, path: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}: key {k!r} only in {'first' if k in a else 'second'}" for k in sorted(set(a) ^ set(b), key=str)]
        return out + [d for k in a if k in b and k not in RUN_KEYS for d in compare_json(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in compare_json(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return []
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


def compared_files(folder: Path) -> list[Path]:
    files = [p.relative_to(folder) for p in folder.glob("results/**/*") if p.is_file()]
    # work*/ and bootstrap*/ (work_by_status/, bootstrap_by_status/ too) hold intermediate files
    wanted = [p for p in files if p.suffix in {".dta", ".csv", ".json", ".sav"} and "stale" not in p.parts
              and not any(part.startswith(("work", "bootstrap")) for part in p.parts[2:-1])]
    wanted += [p for p in files if "release" in p.parts and p.suffix in TEXT_SUFFIXES]
    return sorted(set(wanted) | {Path("resources/demo/gb_soc2020_demo.dta")})


def compare(first: Path, second: Path) -> list[str]:
    """Every difference between the results of two builds (empty: identical); a file only the
    second build has is no changed result and not one (``report`` names it)."""
    ours, theirs = compared_files(first), compared_files(second)
    differences = [f"{p}: only in {first}" for p in ours if p not in theirs]
    for path in (p for p in ours if p in theirs):
        a, b = first / path, second / path
        if path.suffix in {".dta", ".sav"}:
            read = pyreadstat.read_dta if path.suffix == ".dta" else pyreadstat.read_sav
            (x, mx), (y, my) = read(str(a)), read(str(b))
            differences += compare_frames(x, y, str(path)) + compare_meta(mx, my, str(path))
        elif path.suffix == ".csv":
            differences += compare_frames(pd.read_csv(a), pd.read_csv(b), str(path))
        elif path.suffix == ".json":
            differences += compare_json(json.loads(a.read_text()), json.loads(b.read_text()), str(path))
        elif a.read_bytes() != b.read_bytes():
            differences.append(f"{path}: text differs")
    return differences


def report(first: Path, second: Path) -> int:
    differences = compare(first, second)
    ours = compared_files(first)
    for path in (p for p in compared_files(second) if p not in ours):
        print(f"new in {second}: {path}")
    files = len(ours)
    if not differences:
        print(f"identical: {files} files ({first} vs {second})")
        return 0
    print(f"{len(differences)} differences ({first} vs {second}):")
    print("\n".join(differences))
    return 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("build", "check"):
        command = commands.add_parser(name)
        if name == "build":
            command.add_argument("source", type=Path, help="checkout whose workflow and src/ to run")
            command.add_argument("out", type=Path)
            command.add_argument("--inputs", type=Path, help="an earlier build whose input files to take")
        else:
            command.add_argument("revision", help="git revision to hold this checkout against (e.g. main)")
            command.add_argument("--keep", type=Path, help="keep both builds here (before/, after/)")
        command.add_argument("--couples", type=int, default=40_000)
        command.add_argument("--persons", type=int, default=10_000)
        command.add_argument("--bootstrap", type=int, default=4)
    command = commands.add_parser("compare")
    command.add_argument("first", type=Path)
    command.add_argument("second", type=Path)
    args = parser.parse_args(argv)
    if args.command == "compare":
        return report(args.first, args.second)
    sizes = dict(couples=args.couples, persons=args.persons, bootstrap=args.bootstrap)
    if args.command == "build":
        build(args.source, args.out, **sizes, inputs=args.inputs)
        return 0
    with tempfile.TemporaryDirectory(prefix="same_results_") as scratch:
        folder = args.keep or Path(scratch)
        base = Path(scratch) / "base"
        subprocess.run(["git", "-C", str(HERE), "worktree", "add", "--detach", str(base), args.revision],
                       check=True, capture_output=True)
        try:
            build(base, folder / "before", **sizes)
            build(HERE, folder / "after", **sizes, inputs=folder / "before")
        finally:
            subprocess.run(["git", "-C", str(HERE), "worktree", "remove", "--force", str(base)], check=True)
        return report(folder / "before", folder / "after")


if __name__ == "__main__":
    sys.exit(main())
