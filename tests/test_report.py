"""Plots, compare_to and `snakemake --report` through the workflow, on a copy of the project."""

import shutil

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from helpers import REPO, project_copy, snakemake

SCALE = "gb_soc2020_demo"

pytestmark = pytest.mark.slow  # every test here runs Snakemake
PLOTS = ["caterpillar_m", "caterpillar_f", "shrinkage", "male_female", "ca_map", "linked_measures", "compare"]
# No bootstrap: the plots fall back to model-based intervals, and the run stays short.
QUICK = ["bootstrap=0", "plausible_values=0"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The demo with compare_to in the sheet (the published v1 file); the config's compare_to is overridden."""
    directory = project_copy(tmp_path_factory.mktemp("report"))
    (directory / "reference").mkdir()
    shutil.copy(REPO / "tests/data/gb_soc2020_v1.dta", directory / "reference/old.dta")
    sheet = pd.read_csv(directory / "config/scales.tsv", sep="\t", dtype=str, keep_default_na=False)
    sheet.assign(compare_to="reference/old.dta").to_csv(directory / "config/compared.tsv", sep="\t", index=False)
    config = ["--config", "scales=config/compared.tsv", "compare_to=nowhere.dta", *QUICK]
    done = snakemake(directory, *config)
    assert done.returncode == 0, done.stderr[-3000:]
    return directory, config


def test_plots_are_written_for_the_scale(built):
    directory, _ = built
    for name in PLOTS:
        path = directory / f"results/{SCALE}/plots/{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000, name


def test_compare_table_matches_a_direct_computation(built):
    directory, _ = built
    correlations = pd.read_csv(directory / f"results/{SCALE}/compare.tsv", sep="\t").set_index(["codes", "sex"])
    new = pd.read_csv(directory / f"results/{SCALE}/{SCALE}.csv")
    old, _ = pyreadstat.read_dta(REPO / "tests/data/gb_soc2020_v1.dta")
    both = new.merge(old, on="soc2020", suffixes=("_new", "_old"))
    units = both[both["soc2020"] > 1000]  # SOC2020 unit groups are the 4-digit codes
    for label, part in (("units", units), ("all codes", both)):
        for sex, column in (("male", "mcamsis"), ("female", "fcamsis")):
            got = correlations.loc[(label, sex)]
            assert got["n"] == len(part)
            assert got["pearson"] == pytest.approx(np.corrcoef(part[f"{column}_new"], part[f"{column}_old"])[0, 1])
    top = pd.read_csv(directory / f"results/{SCALE}/compare_top.tsv", sep="\t")
    assert len(top) == 40 and set(top["sex"]) == {"male", "female"}
    male = top[top["sex"] == "male"]
    moved = (units["mcamsis_new"] - units["mcamsis_old"]).abs().max()
    assert male["difference"].abs().iloc[0] == pytest.approx(moved)
    assert male["title"].iloc[0] and (directory / f"results/{SCALE}/plots/compare.html").stat().st_size > 1000


def test_by_status_comparison_with_a_title_only_file_gives_each_status_its_occupation(built):
    """The demo is built with statuses: its by-status scale against v1 (title-only), each unit x status
    against its occupation's v1 score, computed here from the two files."""
    directory, _ = built
    correlations = pd.read_csv(directory / f"results/{SCALE}/compare_by_status.tsv", sep="\t").set_index(["codes", "sex"])
    ours = pd.read_csv(directory / f"results/{SCALE}/{SCALE}_by_status.csv")
    old, _ = pyreadstat.read_dta(REPO / "tests/data/gb_soc2020_v1.dta")
    both = ours[ours["empst3"] > 0].merge(old, on="soc2020", suffixes=("_new", "_old"))
    for sex, column in (("male", "mcamsis"), ("female", "fcamsis")):
        got = correlations.loc[("units", sex)]
        assert got["n"] == len(both) == 3 * both["soc2020"].nunique()
        assert got["pearson"] == pytest.approx(np.corrcoef(both[f"{column}_new"], both[f"{column}_old"])[0, 1])
    for name in PLOTS:
        path = directory / f"results/{SCALE}/plots_by_status/{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_report_holds_the_plots_the_tables_and_their_captions(built):
    directory, config = built
    done = snakemake(directory, "--report", "report.html", *config)
    assert done.returncode == 0, done.stderr[-3000:]
    page = (directory / "report.html").read_text()
    for name in PLOTS:
        assert f"plots/{name}.png" in page, name
    assert "plots/compare.html" in page and f"{SCALE}.dta" in page
    for name in PLOTS:  # the by-status scale's, in their own subcategory
        assert f"plots_by_status/{name}.png" in page, name
    assert f"{SCALE}_by_status" in page and "unit x status by unit x status" in page  # compare.rst, by status
    assert "CAMSIS scales built from couples" in page  # workflow/report/workflow.rst
    assert f"Unit scores of scale {SCALE} ranked" in page  # a caption, its wildcard filled in
    assert "{{" not in page.split('id="workflow-desc"')[1][:20000]


def errors(done):
    return [line for line in done.stderr.splitlines() if line.startswith("camsis: error:")]


def test_bad_compare_file_in_the_config_stops_with_one_line(built):
    directory, _ = built
    pd.DataFrame({"soc2020": [1111], "mcamsis": [50.0]}).to_csv(directory / "bad.csv", index=False)
    done = snakemake(directory, "--config", "compare_to=bad.csv", *QUICK, "--rerun-triggers", "mtime")
    assert done.returncode != 0
    (line,) = errors(done)
    assert "bad.csv" in line and "fcamsis" in line
    assert not (directory / f"results/{SCALE}/compare.tsv").exists() or \
        (directory / f"results/{SCALE}/compare.tsv").stat().st_mtime < (directory / "bad.csv").stat().st_mtime


def test_missing_compare_file_stops_before_any_job(built):
    directory, _ = built
    done = snakemake(directory, "--config", "compare_to=nowhere.dta", *QUICK, "--rerun-triggers", "mtime")
    assert done.returncode != 0
    (line,) = errors(done)
    assert "nowhere.dta" in line and "does not exist" in line
