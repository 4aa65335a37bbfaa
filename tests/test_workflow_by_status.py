"""The by-status build through Snakemake: a toy scale with statuses, and the sheet and input errors."""

import json
import shutil

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from helpers import PLAIN, REPO, TOY, TOY_UNITS, error_lines, snakemake, toy_couples, toy_project

pytestmark = pytest.mark.slow  # every test here runs Snakemake

HEADER = "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\tstatus1\tstatus2\tstatuses\n"
SCORED = (1, 2, 3)  # empst3's scored statuses


def status_couples(seed=3):
    """Toy couples with statuses: mostly scored ones, some 0 (no information) and -9 (missing)."""
    couples = toy_couples(n_per_cell=60, seed=seed)
    rng = np.random.default_rng(seed)
    for column in ("hemp", "wemp"):
        couples[column] = rng.choice([1, 2, 3, 0, -9], size=len(couples), p=[0.25, 0.25, 0.44, 0.03, 0.03])
    return couples


def toy_status_project(target):
    directory = toy_project(target)
    shutil.copytree(REPO / "data/statuses", directory / "data/statuses")
    status_couples().to_csv(directory / "couples.csv", index=False)
    return directory


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """Two scales of one run: 'good' with statuses, 'nostatus' naming a status variable the input lacks."""
    directory = toy_status_project(tmp_path_factory.mktemp("by_status"))
    (directory / "config/toy.tsv").write_text(
        HEADER
        + "good\tcouples.csv\thocc\twocc\twt\ttoy\t\t0\themp\twemp\tempst3\n"
        + "nostatus\tcouples.csv\thocc\twocc\twt\ttoy\t\t0\themp\twife_emp\tempst3\n"
    )
    done = snakemake(directory, "--keep-going", "--config", "scales=config/toy.tsv", *PLAIN)
    return directory, done


def test_by_status_file_has_every_unit_with_every_status(toy_run):
    directory, done = toy_run
    path = directory / "results/good/good_by_status.dta"
    assert path.exists(), done.stderr[-3000:]
    frame, meta = pyreadstat.read_dta(path)
    groups = [code for code, level, *_ in TOY if level < 3]
    expected = {(u, s) for u in TOY_UNITS for s in (0, *SCORED)} | {(g, 0) for g in groups}
    assert set(zip(frame["toy"].astype(int), frame["empst3"].astype(int))) == expected and len(frame) == len(expected)
    assert (frame["toy_empst3"] == frame["toy"] * 10 + frame["empst3"]).all()
    assert meta.variable_value_labels["empst3"] == {0: "0. Unknown", 1: "1. Self-employed",
                                                    2: "2. Manager/supervisor", 3: "3. Employee"}
    scored = frame[frame["empst3"] > 0]
    assert scored[["mcamsis", "fcamsis"]].notna().all().all()
    csv = pd.read_csv(directory / "results/good/good_by_status.csv")
    np.testing.assert_allclose(csv["mcamsis"], frame["mcamsis"])


def test_status_zero_rows_are_the_title_only_scale(toy_run):
    directory, done = toy_run
    frame, _ = pyreadstat.read_dta(directory / "results/good/good_by_status.dta")
    title, _ = pyreadstat.read_dta(directory / "results/good/good.dta")
    zero = frame[frame["empst3"] == 0].set_index("toy").sort_index()
    title = title.set_index("toy").loc[zero.index]
    np.testing.assert_allclose(zero[["mcamsis", "fcamsis"]].to_numpy(), title[["mcamsis", "fcamsis"]].to_numpy())


def test_pairs_without_a_scored_status_are_counted_in_the_summary(toy_run):
    directory, _ = toy_run
    summary = json.loads((directory / "results/good/summary.json").read_text())
    couples = status_couples()  # every toy pair is valid for the title-only scale
    unknown = ~(couples["hemp"].isin(SCORED) & couples["wemp"].isin(SCORED))
    assert summary["pairs_used"] == len(couples)
    assert summary["status_unknown"] == int(unknown.sum()) > 0
    assert summary["by_status"]["pairs_used"] == len(couples) - int(unknown.sum())
    assert summary["by_status"]["statuses"] == "empst3"


def test_a_missing_status_variable_is_one_line_and_no_score_file(toy_run):
    directory, done = toy_run
    assert done.returncode != 0
    errors = error_lines(done.stderr)
    assert len(errors) == 1, "\n".join(errors) or done.stderr[-3000:]
    assert "wife_emp" in errors[0] and "couples.csv" in errors[0]
    assert "Traceback (most recent call last)" not in done.stderr
    for name in ("nostatus.dta", "nostatus_by_status.dta", "summary.json"):
        assert not (directory / "results/nostatus" / name).exists(), name


@pytest.mark.parametrize(
    "cells, message",
    [
        ("hemp\t\tempst3", "scale a gives status1 and statuses but not status2"),
        ("hemp\twemp\t", "scale a gives status1 and status2 but not statuses"),
        ("hemp\twemp\tempst9", "unknown status scheme 'empst9' for scale a (known in data/statuses: empst3, es5)"),
    ],
)
def test_incomplete_or_unknown_statuses_stop_the_run_before_any_job(tmp_path, cells, message):
    directory = toy_status_project(tmp_path)
    (directory / "config/bad.tsv").write_text(HEADER + f"a\tcouples.csv\thocc\twocc\t\ttoy\t\t0\t{cells}\n")
    done = snakemake(directory, "--config", "scales=config/bad.tsv", *PLAIN)
    assert done.returncode != 0
    errors = error_lines(done.stderr)
    assert len(errors) == 1 and message in errors[0], done.stderr[-2000:]
    assert not (directory / "results").exists()
