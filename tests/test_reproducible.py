"""Reproducible and traceable builds: same inputs and config, same scores; files say what made them.

The package API is checked on files written in two row orders and read in several chunk
sizes; the workflow on a tiny project copy: reruns only what changed, notes in the .dta,
checksums in summary.json, and the same scores with another chunk size.
"""

import hashlib
import json
import os

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyreadstat
import pytest

import camsis
from camsis.io.writing import atomic_path
from camsis.method.blanking import blank_cells
from camsis.method.tables import tabulate
from camsis.scaling.scale import ScaleOptions, build_unit_scores
from helpers import PLAIN, TOY_UNITS, planned_jobs, snakemake, toy_couples, toy_project


def scores_from(path, toy, chunksize):
    table = tabulate(path, "hocc", "wocc", "wt", toy.units, chunksize=chunksize)
    blank = blank_cells(toy.units, toy.units, diagonal_digits=0)
    return table, build_unit_scores(table, blank, blank, toy, ScaleOptions(min_n=0)).scores


@pytest.mark.parametrize("suffix", [".dta", ".parquet", ".csv"])
def test_same_scores_whatever_the_row_order_and_chunk_size(tmp_path, toy, suffix):
    frame = toy_couples(n_per_cell=5, seed=3)
    shuffled = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    paths = []
    for name, data in (("ordered", frame), ("shuffled", shuffled)):
        path = tmp_path / f"{name}{suffix}"
        {".dta": lambda: pyreadstat.write_dta(data, path), ".parquet": lambda: data.to_parquet(path),
         ".csv": lambda: data.to_csv(path, index=False)}[suffix]()
        paths.append(path)
    reference_table, reference = scores_from(paths[0], toy, chunksize=1_000_000)
    # Same file, same chunk size: identical to the last bit.
    pdt.assert_frame_equal(scores_from(paths[0], toy, chunksize=1_000_000)[1], reference, check_exact=True)
    for path in paths:
        for chunksize in (1, 37, 250):
            table, scores = scores_from(path, toy, chunksize)
            pdt.assert_frame_equal(table.counts, reference_table.counts, check_exact=True)
            # Weighted sums added in another order differ in the last bits only.
            pdt.assert_frame_equal(table.weighted, reference_table.weighted, check_exact=False, rtol=1e-12)
            pdt.assert_frame_equal(scores, reference, check_exact=False, rtol=1e-9, atol=1e-9)


def test_atomic_path_leaves_nothing_when_the_write_fails(tmp_path):
    target = tmp_path / "out" / "scores.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half a file")
            raise RuntimeError("interrupted")
    assert list((tmp_path / "out").iterdir()) == []
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("new")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old" and [p.name for p in (tmp_path / "out").iterdir()] == ["scores.csv"]


def test_atomic_path_gives_files_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "published.csv") as temporary:
            temporary.write_text("x")
    finally:
        os.umask(mask)
    assert (tmp_path / "published.csv").stat().st_mode & 0o777 == 0o644


# ---- the workflow on a tiny project ----

SHEET = "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\n" \
        "t\tcouples.dta\thocc\twocc\twt\ttoy\tpsd.tsv\t0\n"
TARGETS = ["results/t/t.dta", "results/t/t.csv", "results/t/summary.json"]


def planned(directory, *config):
    """Rules a dry run of the tiny project's score files would run."""
    return planned_jobs(directory, "--config", "scales=config/t.tsv", *PLAIN, *config, "--", *TARGETS)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    directory = toy_project(tmp_path_factory.mktemp("reproducible"))
    pyreadstat.write_dta(toy_couples(n_per_cell=6, seed=5), directory / "couples.dta")
    (directory / "psd.tsv").write_text("lower_1\tupper_1\tlower_2\tupper_2\n111\t112\t121\t122\n")
    (directory / "config/t.tsv").write_text(SHEET)
    done = snakemake(directory, "--config", "scales=config/t.tsv", "min_n=0", *PLAIN, "--", *TARGETS)
    assert done.returncode == 0, done.stderr[-3000:]
    return directory


@pytest.mark.slow
def test_score_file_and_summary_trace_the_build(built):
    digest = hashlib.sha256((built / "couples.dta").read_bytes()).hexdigest()
    summary = json.loads((built / "results/t/summary.json").read_text())
    assert summary["camsis_version"] == camsis.__version__
    assert summary["input"] == {"path": "couples.dta", "sha256": digest}
    assert summary["config"]["min_n"] == 0 and summary["config"]["chunksize"] > 0
    # Settings that make no number of the scale (plots, comparison, the sheet's name) are not its provenance.
    assert not {"plot_dpi", "compare_to", "scales"} & set(summary["config"])
    assert isinstance(summary["warnings"], list)
    _, meta = pyreadstat.read_dta(built / "results/t/t.dta", metadataonly=True)
    notes = "\n".join(meta.notes)
    assert f"camsis {camsis.__version__}" in notes and "scale t" in notes
    assert digest in notes and '"min_n": 0' in notes and '"psds": "psd.tsv"' in notes


@pytest.mark.slow
def test_reruns_only_what_changed_and_another_chunk_size_gives_the_same_scores(built):
    assert planned(built, "min_n=0") == set()
    # Snakemake compares small files by checksum: a newer time alone is no change.
    (built / "psd.tsv").touch()
    assert planned(built, "min_n=0") == set()

    before = pd.read_csv(built / "results/t/t.csv")
    config = ["min_n=0", "chunksize=7"]
    done = snakemake(built, "--config", "scales=config/t.tsv", *PLAIN, *config, "--", *TARGETS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rule tabulate" in done.stdout + done.stderr  # a new chunk size is a new parameter: read again
    after = pd.read_csv(built / "results/t/t.csv")
    pdt.assert_frame_equal(after, before, check_exact=False, rtol=1e-9, atol=1e-9)
    assert np.isfinite(after.loc[after["toy"].isin(TOY_UNITS), ["mcamsis", "fcamsis"]]).all().all()

    # A changed pseudo-diagonal file: blanking and what follows it, not the reading.
    with open(built / "psd.tsv", "a") as handle:
        handle.write("211\t212\t221\t222\n")
    assert planned(built, *config) == {"blank", "score_units", "score_file"}
